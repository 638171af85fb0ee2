package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.StopReport;

/** A guest started in flat 32-bit protected mode by the VMM's special registers. */
public interface ProtectedModeGuests extends GuestBackEnd {

    @Test
    default void thirtyTwoBitPortAndMmioAccessesReachTheBuses() throws Exception {
        try (GuestVm t = vm(false)) {
            List<String> seen = new ArrayList<>();
            t.ports.register("port", 0xE0, 4, new IoHandler() {
                @Override public long read(long offset, int size) {
                    seen.add("in " + size);
                    return 0x12345678L;
                }
                @Override public void write(long offset, int size, long value) {
                    seen.add(String.format("out %d 0x%x", size, value));
                }
            });
            t.mmio.register("mmio", 0xD000_0000L, 0x1000, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) {
                    seen.add(String.format("mmio 0x%x/%d 0x%x", offset, size, value));
                }
            });
            Asm a = Asm.protected32(0x1000)
                    .movDx(0xE0)                               // mov dx, 0xE0
                    .movEax(0xCAFEBABEL).outDxEax()           // out dx, eax
                    .inEaxDx()                                 // in eax, dx        ; 0x12345678
                    .movMem32Eax(0x3000)                       // mov [0x3000], eax
                    .movMem32Imm(0xD000_0008L, 0xFEEDF00DL)    // mov dword [0xD0000008], 0xFEEDF00D
                    .hlt();
            t.load(0x1000, a.bytes());
            t.protectedMode(t.vcpu(), 0x1000, 0, 0);
            t.start();

            StopReport r = t.awaitStop();

            assertThat(r.cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(seen).containsExactly("out 4 0xcafebabe", "in 4", "mmio 0x8/4 0xfeedf00d");
            assertThat(t.memory.readU32(0x3000)).isEqualTo(0x12345678L);
            SpecialRegisters s = t.vcpu().specialRegisters();
            assertThat(s.cr0() & SpecialRegisters.CR0_PE).isNotZero();
            assertThat(s.segment(SpecialRegisters.Seg.CS).selector()).isEqualTo(GuestVm.CODE32);
        }
    }
}
