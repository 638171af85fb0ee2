package vmm.emu.internal.cpu;

/**
 * The VM's time in nanoseconds since the VM was created. One instance drives
 * the TSC and every timer of the VM's interrupt controllers (PIT, APIC timers),
 * so they agree with each other; {@code vmm.emu.internal.irq.ManualClock} is
 * the one tests and deterministic runs move by hand. Thread-safe; never goes
 * backwards.
 */
@FunctionalInterface
public interface VirtualClock {
    /** The current virtual time in nanoseconds, from 0 at creation. */
    long nanos();

    /** A clock following the host's monotonic clock, starting at 0 now. */
    static HostClock host() {
        return new HostClock();
    }
}
