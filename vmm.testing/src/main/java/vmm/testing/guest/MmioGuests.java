package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.StopReport;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;

/** Guest accesses to addresses that are not RAM reach the MMIO bus; ROM is mapped read-only. */
public interface MmioGuests extends GuestBackEnd {

    @Test
    default void mmioWritesAndReadsReachTheHandlerWithAddressSizeAndValue() throws Exception {
        try (GuestVm t = vm(false)) {
            List<String> seen = new ArrayList<>();
            t.mmio.register("test", 0xD0000, 0x100, new IoHandler() {
                @Override public long read(long offset, int size) {
                    seen.add(String.format("read 0x%x/%d", offset, size));
                    return 0xBEEF;
                }
                @Override public void write(long offset, int size, long value) {
                    seen.add(String.format("write 0x%x/%d 0x%x", offset, size, value));
                }
            });
            List<Long> out = new ArrayList<>();
            t.ports.register("result", 0xE0, 2, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { out.add(value); }
            });
            Asm a = Asm.real(0x1000)
                    .movAx(0xD000).movDsAx()          // ds = 0xD000: offsets below are at 0xD0000 + offset
                    .movAx(0x1234).movMemAx16(0x10)   // mov [0x10], ax    ; MMIO write, 2 bytes at 0xD0010
                    .movAxMem16(0x20)                 // mov ax, [0x20]    ; MMIO read, 2 bytes at 0xD0020
                    .outImmAx(0xE0)                   // out 0xE0, ax      ; report what the read returned
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(seen).containsExactly("write 0x10/2 0x1234", "read 0x20/2");
            assertThat(out).containsExactly(0xBEEFL);
        }
    }

    @Test
    default void romIsReadableAndAGuestWriteToItChangesNothing() throws Exception {
        byte[] image = new byte[0x1000];
        image[0] = 0x11;
        image[1] = 0x22;
        try (GuestVm t = vm(new VmConfig(1, false), () -> GuestMemory.builder()
                .ram("ram", 0, GuestVm.RAM_SIZE).rom("rom", 0xF0000, image).build())) {
            List<String> mmioSeen = new ArrayList<>();
            t.mmio.register("rom-shadow", 0xF0000, 0x1000, new IoHandler() {
                @Override public long read(long offset, int size) { mmioSeen.add("read"); return 0; }
                @Override public void write(long offset, int size, long value) {
                    mmioSeen.add(String.format("write 0x%x/%d 0x%x", offset, size, value));
                }
            });
            List<Long> out = new ArrayList<>();
            t.ports.register("result", 0xE0, 2, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { out.add(value); }
            });
            Asm a = Asm.real(0x1000)
                    .movAx(0xF000).movDsAx()          // ds = 0xF000: the ROM
                    .movAxMem16(0)                    // mov ax, [0]       ; a plain memory read: 0x2211
                    .outImmAx(0xE0)
                    .movAx(0x5555).movMemAx16(0)      // mov [0], ax       ; read-only slot: exits as an MMIO write
                    .movAxMem16(0)                    // mov ax, [0]       ; still 0x2211
                    .outImmAx(0xE0)
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(out).containsExactly(0x2211L, 0x2211L);
            assertThat(mmioSeen).containsExactly("write 0x0/2 0x5555");
        }
    }

    @Test
    default void anMmioWriteSplitAtAPageEdgeReachesTheBusAsItsBytesInOrder() throws Exception {
        try (GuestVm t = vm(false)) {
            java.util.TreeMap<Long, Integer> bytes = new java.util.TreeMap<>();
            t.mmio.register("two-pages", 0xA0000, 0x2000, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) {
                    for (int i = 0; i < size; i++) bytes.put(offset + i, (int) (value >>> (8 * i)) & 0xFF);
                }
            });
            Asm a = Asm.real(0x1000)
                    .movAx(0xA000).movDsAx()               // ds = 0xA000
                    .movEax(0x11223344L)                   // mov eax, 0x11223344
                    .db(0x66, 0xA3, 0xFF, 0x0F)            // mov [0x0FFF], eax ; 4 bytes across the page edge at 0xA1000
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(bytes).containsExactly(java.util.Map.entry(0xFFFL, 0x44), java.util.Map.entry(0x1000L, 0x33),
                    java.util.Map.entry(0x1001L, 0x22), java.util.Map.entry(0x1002L, 0x11));
        }
    }

    @Test
    default void aRomThatIsNotWholePagesShowsZerosPastItsImage() throws Exception {
        byte[] image = new byte[100];
        java.util.Arrays.fill(image, (byte) 0x77);
        try (GuestVm t = vm(new VmConfig(1, false), () -> GuestMemory.builder()
                .ram("ram", 0, GuestVm.RAM_SIZE).rom("option-rom", 0xC0000, image).build())) {
            List<Long> out = new ArrayList<>();
            t.ports.register("result", 0xE0, 2, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { out.add(value); }
            });
            Asm a = Asm.real(0x1000)
                    .movAx(0xC000).movDsAx()
                    .movAxMem16(98).outImmAx(0xE0)         // the image's last two bytes
                    .movAxMem16(100).outImmAx(0xE0)        // the first two past it, in the same page
                    .movAxMem16(0xFFE).outImmAx(0xE0)      // the page's end
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(out).containsExactly(0x7777L, 0L, 0L);
        }
    }
}
