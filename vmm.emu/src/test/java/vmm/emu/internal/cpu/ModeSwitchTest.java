package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.VcpuExit;

/** The guest switches modes itself: real to protected to long mode, and an AP started by INIT/SIPI. */
class ModeSwitchTest {
    private static void put(ByteArrayOutputStream out, int... bytes) {
        for (int b : bytes) out.write(b);
    }

    private static int[] le32(long v) {
        return new int[] {(int) v & 0xFF, (int) (v >> 8) & 0xFF, (int) (v >> 16) & 0xFF, (int) (v >> 24) & 0xFF};
    }

    @Test
    void aGuestGoesFromRealModeThroughProtectedModeIntoLongMode() {
        try (Harness h = Harness.real()) {
            long gdtr = 0x1F00;
            h.memory.writeU64(Harness.GDT, 0);
            h.memory.writeU64(Harness.GDT + 0x08, 0x00CF9A000000FFFFL);
            h.memory.writeU64(Harness.GDT + 0x10, 0x00CF92000000FFFFL);
            h.memory.writeU64(Harness.GDT + 0x18, 0x00AF9A000000FFFFL);
            h.memory.writeU16(gdtr, 4 * 8 - 1);
            h.memory.writeU32(gdtr + 2, Harness.GDT);
            h.memory.writeU64(Harness.PML4, Harness.PDPT | 3);
            h.memory.writeU64(Harness.PDPT, Harness.PD | 3);
            h.memory.writeU64(Harness.PD, 0x83);

            ByteArrayOutputStream code = new ByteArrayOutputStream();
            long base = Harness.CODE;
            put(code, 0xFA);                                         // cli
            put(code, 0x0F, 0x01, 0x16, (int) gdtr & 0xFF, (int) (gdtr >> 8)); // lgdt [gdtr]
            put(code, 0x0F, 0x20, 0xC0, 0x0C, 0x01, 0x0F, 0x22, 0xC0);  // mov eax,cr0; or al,1; mov cr0,eax
            long pm32 = base + code.size() + 8;
            put(code, 0x66, 0xEA);                                   // jmp dword 0x08:pm32
            put(code, le32(pm32));
            put(code, 0x08, 0x00);
            put(code, 0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD8, 0x8E, 0xD0);  // mov ax,0x10; mov ds,ax; mov ss,ax
            put(code, 0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x20, 0x0F, 0x22, 0xE0); // cr4 |= PAE
            put(code, 0xB8);
            put(code, le32(Harness.PML4));                           // mov eax,PML4
            put(code, 0x0F, 0x22, 0xD8);                             // mov cr3,eax
            put(code, 0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32);     // mov ecx,EFER; rdmsr
            put(code, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x0F, 0x30);     // or eax,LME; wrmsr
            put(code, 0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x22, 0xC0); // cr0 |= PG
            long lm64 = base + code.size() + 7;
            put(code, 0xEA);                                         // jmp 0x18:lm64
            put(code, le32(lm64));
            put(code, 0x18, 0x00);
            put(code, 0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11); // mov rax,0x1122334455667788
            put(code, 0xF4);
            byte[] b = code.toByteArray();
            h.memory.write(base, b, 0, b.length);

            h.runToHalt();

            assertThat(h.reg(Cpu.RAX)).isEqualTo(0x1122334455667788L);
            assertThat(h.c.efer & Cpu.EFER_LMA).isNotZero();
            assertThat(h.c.codeBits).isEqualTo(64);
            assertThat(h.c.seg[Cpu.SS].selector()).isEqualTo(0x10);
        }
    }

    @Test
    void anApplicationProcessorWaitsForInitAndStartsAtTheSipiVector() {
        try (Harness h = Harness.real()) {
            Machine ap = new Machine(1, 2, h.phys, VirtualClock.host(), true);
            AtomicInteger sipi = new AtomicInteger(-1);
            boolean[] init = {false};
            ap.setInterruptSource(new InterruptSource() {
                @Override public boolean hasInterrupt() { return false; }
                @Override public int acknowledge() { return -1; }
                @Override public boolean takeInit() { boolean i = init[0]; init[0] = false; return i; }
                @Override public int takeSipi() { return sipi.getAndSet(-1); }
            });
            assertThat(ap.waitingForSipi()).isTrue();
            h.load(0x9000, 0xB8, 0x34, 0x12, 0xF4);                  // at 0x9000: mov ax,0x1234; hlt
            init[0] = true;
            sipi.set(0x09);
            ap.wake();
            assertThat(ap.step(h.ports, h.mmio, 1)).isNull();        // INIT, SIPI, then one instruction
            assertThat(ap.waitingForSipi()).isFalse();
            assertThat(ap.cpu().seg[Cpu.CS].selector()).isEqualTo(0x0900);
            assertThat(ap.cpu().rip).isEqualTo(3);
            assertThat(ap.cpu().r[Cpu.RAX]).isEqualTo(0x1234);
            ap.kick();
            assertThat(ap.step(h.ports, h.mmio, 10)).isInstanceOf(VcpuExit.Interrupted.class);
        }
    }
}
