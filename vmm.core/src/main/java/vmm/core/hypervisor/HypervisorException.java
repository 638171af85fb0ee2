package vmm.core.hypervisor;

/**
 * The host cannot do what was asked. The message says what is missing and,
 * where the user can fix it, how (for example "add your user to group kvm").
 */
public class HypervisorException extends RuntimeException {
    public HypervisorException(String message) {
        super(message);
    }

    public HypervisorException(String message, Throwable cause) {
        super(message, cause);
    }
}
