package vmm.emu.internal.cpu;

/**
 * Takes guest port or MMIO writes before they reach the bus, as KVM's
 * ioeventfd does. Called on vCPU threads; must be thread-safe and quick.
 */
public interface WriteInterceptor {
    /** Whether the write of {@code size} bytes of {@code value} at {@code address} was taken (not for the bus). */
    boolean intercept(boolean port, long address, int size, long value);
}
