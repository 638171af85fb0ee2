package vmm.core.hypervisor;

/** Something attached to a VM (an I/O event, an irqfd); {@link #close()} detaches it, and closing twice is harmless. */
public interface Binding extends AutoCloseable {
    @Override
    void close();
}
