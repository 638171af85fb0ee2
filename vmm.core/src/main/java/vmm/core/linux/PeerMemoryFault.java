package vmm.core.linux;

/**
 * Recognizes a fault on memory a peer shared and then took away. A peer whose
 * memory file cannot be sealed (see {@link Native#guardPeerMemory}) may shrink
 * it under our mapping; the next access to a page past its new end raises
 * SIGBUS, which HotSpot turns into an {@link InternalError} ("a fault occurred
 * in an unsafe memory access operation") in the thread that touched it, for
 * every {@link java.lang.foreign.MemorySegment} access. System calls given
 * such a page fail with EFAULT instead. The server that catches one cuts that
 * peer off; it says nothing about the VMM's own state.
 */
public final class PeerMemoryFault {
    private PeerMemoryFault() {}

    /** Whether {@code t}, or one of its causes, is the JVM's report of a faulting memory access. */
    public static boolean is(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause())
            if (c instanceof InternalError && c.getMessage() != null && c.getMessage().contains("a fault occurred"))
                return true;
        return false;
    }
}
