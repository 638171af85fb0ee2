package vmm.emu.internal.irq;

/**
 * The VM's time in nanoseconds since the VM was created. One instance drives
 * every timer of a VM (PIT, APIC timers, later the TSC, RTC and ACPI PM
 * timer), so they agree with each other. Thread-safe; never goes backwards.
 */
@FunctionalInterface
public interface VirtualClock {
    /** The current virtual time in nanoseconds, from 0 at creation. */
    long nanos();

    /** A clock following the host's monotonic clock, starting at 0 now. */
    static VirtualClock host() {
        long origin = System.nanoTime();
        return () -> System.nanoTime() - origin;
    }
}
