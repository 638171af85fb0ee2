package vmm.core.hypervisor;

/**
 * An exit whose values break the host ABI (an I/O data offset outside the
 * shared page, an MMIO length over 8): the VM is stopped rather than trusting
 * them.
 */
public class GuestStateException extends RuntimeException {
    public GuestStateException(String message) {
        super(message);
    }
}
