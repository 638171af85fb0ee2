package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.StopReport;

/** Real-mode guests doing port I/O through the core's bus, and halting. */
public interface RealModeGuests extends GuestBackEnd {

    @Test
    default void outReachesTheBusAndInReadsTheHandlersValueBack() throws Exception {
        try (GuestVm t = vm(false)) {
            List<String> seen = new ArrayList<>();
            t.ports.register("test", 0xE0, 4, new IoHandler() {
                @Override public long read(long offset, int size) {
                    seen.add("read " + offset + "/" + size);
                    return 0x5A;
                }
                @Override public void write(long offset, int size, long value) {
                    seen.add(String.format("write %d/%d 0x%x", offset, size, value));
                }
            });
            Asm a = Asm.real(0x1000)
                    .movAl(0x42).outImmAl(0xE0)        // out 0xE0, al      ; 0x42
                    .inAlImm(0xE1)                     // in al, 0xE1       ; handler answers 0x5A
                    .outImmAl(0xE2)                    // out 0xE2, al      ; echo it
                    .movAx(0xBEEF).outImmAx(0xE0)      // out 0xE0, ax      ; a 16-bit write
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            StopReport r = t.awaitStop();

            assertThat(r.cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(seen).containsExactly("write 0/1 0x42", "read 1/1", "write 2/1 0x5a", "write 0/2 0xbeef");
        }
    }

    @Test
    default void stringOutAndInMoveEveryElementInOrder() throws Exception {
        try (GuestVm t = vm(false)) {
            ByteArrayOutputStream written = new ByteArrayOutputStream();
            int[] next = {'a'};
            t.ports.register("test", 0xE3, 1, new IoHandler() {
                @Override public long read(long offset, int size) { return next[0]++; }
                @Override public void write(long offset, int size, long value) { written.write((int) value); }
            });
            t.load(0x2000, "hello, world".getBytes());
            Asm a = Asm.real(0x1000)
                    .movSi(0x2000).movCx(12).movDx(0xE3)   // si = message, cx = its length, dx = port
                    .repOutsb()                            // rep outsb         ; 12 bytes to port 0xE3
                    .movDi(0x3000).movCx(5)                // es:di = 0:0x3000 (es is 0)
                    .repInsb()                             // rep insb          ; 5 bytes from port 0xE3
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);

            assertThat(written.toString()).isEqualTo("hello, world");
            byte[] in = new byte[5];
            t.memory.read(0x3000, in, 0, 5);
            assertThat(new String(in)).isEqualTo("abcde");
        }
    }
}
