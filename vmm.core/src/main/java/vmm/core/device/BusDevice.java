package vmm.core.device;

import java.util.List;

/**
 * A device model on the I/O-port or MMIO bus without PCI (an ISA device such as a 16550 UART, or a platform
 * device): it decodes fixed {@link BusRange}s and drives interrupt lines from
 * {@link DeviceContext#interruptLine(int)}. Plugged as a device instance, it has the life every instance has: a
 * swap behind the instance's gate with its {@link DeviceState} carried over, detach while no provider is there,
 * reset on a guest reset, {@code device:list}.
 */
public interface BusDevice extends DeviceModel {
    /**
     * The ranges it decodes, fixed for the model's life. A swap's successor must decode the same ones: the
     * instance keeps them on the bus and passes their accesses to whichever model is in place.
     */
    List<BusRange> ranges();

    /**
     * A guest read of {@code size} (1, 2, 4 or 8) bytes at {@code offset} within range {@code range} (an index
     * into {@link #ranges()}, the offset inside it): the value in the low {@code size} bytes. On vCPU threads,
     * possibly several at once; never while the model is being paused, saved or swapped.
     */
    long read(int range, long offset, int size);

    /** A guest write; the same rules as {@link #read}. A value the device does not take is ignored. */
    void write(int range, long offset, int size, long value);
}
