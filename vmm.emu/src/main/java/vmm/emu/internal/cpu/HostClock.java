package vmm.emu.internal.cpu;

/**
 * The VM's time in a run that follows the host's monotonic clock: the host's clock less an origin, which a
 * restored VM moves once, before anything runs, so that its time goes on from the snapshot's instead of from 0.
 * Thread-safe.
 */
public final class HostClock implements VirtualClock {
    private volatile long origin = System.nanoTime();

    @Override
    public long nanos() {
        return System.nanoTime() - origin;
    }

    /**
     * Makes the clock read {@code nanos} now and go on from there. Only while nothing that reads the clock runs
     * (a VM being restored): a reader would see the time jump.
     *
     * @throws IllegalArgumentException if {@code nanos} is negative
     */
    public void continueFrom(long nanos) {
        if (nanos < 0) throw new IllegalArgumentException("a VM's time is not negative: " + nanos);
        origin = System.nanoTime() - nanos;
    }
}
