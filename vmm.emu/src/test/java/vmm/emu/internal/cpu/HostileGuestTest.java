package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.VcpuExit;

/**
 * Random bytes as guest code, in each mode: whatever they do, the CPU answers
 * with guest exceptions and exits, never a host exception. Fixed seeds, so a
 * failure reproduces.
 */
class HostileGuestTest {
    private static void fuzz(String mode, Supplier<Harness> make) {
        for (int seed = 0; seed < 50; seed++) {
            try (Harness h = make.get()) {
                Random r = new Random(seed * 7919L + mode.hashCode());
                byte[] junk = new byte[0x8000];
                r.nextBytes(junk);
                h.memory.write(Harness.CODE, junk, 0, 0x1F00); // below the IDT, over the code
                h.memory.write(0x20000, junk, 0, junk.length);  // data the junk may point at
                int s = seed;
                VcpuExit e = null;
                try {
                    for (int round = 0; round < 10 && !(e instanceof VcpuExit.Shutdown)
                            && !(e instanceof VcpuExit.InternalError); round++) {
                        e = h.machine.step(h.ports, h.mmio, 300);
                        if (e instanceof VcpuExit.Halted) h.c.rip = (h.c.rip + 1) & 0xFFFF; // go on past the HLT
                    }
                } catch (RuntimeException ex) {
                    throw new AssertionError(mode + " seed " + s + ": a host exception from guest code at rip 0x"
                            + Long.toHexString(h.c.rip), ex);
                }
                assertThat(h.machine.instructions()).as("%s seed %d made progress", mode, s).isPositive();
            }
        }
    }

    @Test
    void randomCodeInRealModeOnlyFaultsTheGuest() {
        fuzz("real", Harness::real);
    }

    @Test
    void randomCodeInProtectedModeOnlyFaultsTheGuest() {
        fuzz("protected", Harness::protected32);
    }

    @Test
    void randomCodeInLongModeOnlyFaultsTheGuest() {
        fuzz("long", Harness::long64);
    }
}
