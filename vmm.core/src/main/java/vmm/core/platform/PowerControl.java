package vmm.core.platform;

/**
 * What the platform's power and reset registers ask of whoever runs the
 * machine. Called on a vCPU thread in the middle of a guest access: an
 * implementation records the request and stops the vCPUs from another
 * thread; it must not block waiting for the vCPUs itself.
 */
public interface PowerControl {
    /** The guest powered the machine off (ACPI S5); {@code how} names the register, for the log. */
    void powerOff(String how);

    /** The guest asked for a reset; {@code how} names the register, for the log. */
    void reset(String how);
}
