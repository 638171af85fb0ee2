package vmm.core.hypervisor;

/**
 * A counter the host kernel can signal and wait on without the VMM (a Linux
 * eventfd). Created by {@link VirtualMachine#createEventFd()}; thread-safe.
 */
public interface EventFd extends AutoCloseable {
    /** The host file descriptor, for handing to a peer (a vhost-user back end); -1 once closed. */
    int fd();

    /** Adds one to the counter, waking whoever waits on it. */
    void signal();

    /** Returns the counter and resets it to zero, or returns 0 at once when it is zero; never blocks. */
    long poll();

    /** Releases the descriptor. Bindings that use it must be closed first. */
    @Override
    void close();
}
