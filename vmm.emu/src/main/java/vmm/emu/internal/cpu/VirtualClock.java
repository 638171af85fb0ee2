package vmm.emu.internal.cpu;

/**
 * The VM's time base: the TSC, and the timers of the interrupt controllers,
 * read the same clock so they agree. Thread-safe.
 */
public interface VirtualClock {
    /** Nanoseconds since the VM's clock started; never decreases. */
    long nanos();

    /** A clock running at host speed from the moment it is created. */
    static VirtualClock host() {
        long start = System.nanoTime();
        return () -> System.nanoTime() - start;
    }
}
