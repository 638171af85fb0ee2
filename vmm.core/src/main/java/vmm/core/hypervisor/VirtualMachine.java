package vmm.core.hypervisor;

import java.lang.foreign.MemorySegment;
import java.util.OptionalLong;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.memory.GuestMemory;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * One VM of a {@link Hypervisor}: its memory map, vCPUs, interrupt controller
 * and eventfd bindings. Thread-safe unless a method says otherwise.
 */
public interface VirtualMachine extends AutoCloseable {
    /** The guest memory the VM was created over. */
    GuestMemory memory();

    /** The configuration the VM was created with. */
    VmConfig config();

    /**
     * The guest's monotonic time in nanoseconds, for the platform's timers (the ACPI PM timer): the host's
     * monotonic clock, unless the back end keeps a time of its own (the software CPU in a
     * {@linkplain VmConfig#deterministic() deterministic} run, where it follows the instruction count). Any thread.
     */
    default long guestNanos() {
        return System.nanoTime();
    }

    /**
     * The date and time the guest's real-time clock shows: the host's, unless the run is
     * {@linkplain VmConfig#deterministic() deterministic}, where a back end that keeps its own time starts it from
     * a fixed date so that the guest reads the same dates on every run. Any thread.
     */
    default java.time.Clock guestWallClock() {
        return java.time.Clock.systemUTC();
    }

    /**
     * The in-kernel interrupt controller: {@link IrqChip#setLevel} drives an
     * IOAPIC (and, below 16, PIC) input, {@link IrqChip#signalMsi} delivers an MSI.
     *
     * @throws IllegalStateException if the VM was created without {@link VmConfig#inKernelIrqchip()}
     */
    IrqChip irqChip();

    /**
     * Creates vCPU {@code index} (0 is the bootstrap processor, the others wait
     * for INIT/SIPI when the in-kernel irqchip is used), with the CPUID the back end
     * chose for it. Call before the vCPUs run.
     *
     * @throws IllegalArgumentException if {@code index} is outside {@code [0, config().vcpus())} or was already created
     */
    Vcpu createVcpu(int index);

    /** Creates an eventfd for {@link #bindIoEvent} and {@link #bindIrqFd}; the caller closes it. */
    EventFd createEventFd();

    /**
     * Makes a guest write of {@code size} bytes to {@code address} (and, if given,
     * only of the value {@code datamatch}) signal {@code fd} inside the host kernel:
     * the vCPU does not exit and the bus is not called for it.
     *
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8, or the range leaves the address space
     * @throws HypervisorException      if the host refuses (an overlapping binding)
     */
    Binding bindIoEvent(EventFd fd, AddressSpace space, long address, int size, OptionalLong datamatch);

    /**
     * Makes a signal of {@code fd} raise {@code gsi} as an edge, inside the host
     * kernel; with {@link #routeMsi} the GSI can stand for an MSI.
     *
     * @throws IllegalStateException if the VM has no in-kernel irqchip
     */
    Binding bindIrqFd(EventFd fd, int gsi);

    /**
     * Makes a guest INTx line driven by {@code fd}: a signal raises {@code gsi} as a level
     * inside the host kernel, and when the guest ends that interrupt (EOI) the host lowers
     * the line and signals {@code resample}, so the source can fire again if still
     * pending (a passed-through device's INTx, which VFIO masks until it is told).
     *
     * @throws IllegalStateException    if the VM has no in-kernel irqchip
     * @throws IllegalArgumentException if {@code gsi} is not an IOAPIC input
     * @throws HypervisorException      if the host refuses (no resampling irqfd support)
     */
    default Binding bindIrqFd(EventFd fd, EventFd resample, int gsi) {
        throw new UnsupportedOperationException("this hypervisor back end has no resampling irqfd");
    }

    /**
     * Maps {@code host} (a whole number of 4 KiB pages, page aligned, such as a device BAR
     * mmap'd through VFIO) into the guest at {@code gpa}, so guest accesses reach it without
     * exits. The caller keeps {@code host} mapped until the binding is closed; closing it
     * removes the mapping. Called while no vCPU can be relying on the range (the guest is
     * moving or enabling a BAR); safe from any thread.
     *
     * @throws IllegalArgumentException if {@code gpa} or the size is not page aligned, or the range overlaps guest RAM
     * @throws HypervisorException      if the host has no free memory slot or refuses the mapping
     */
    default Binding mapMemory(long gpa, MemorySegment host, boolean readOnly) {
        throw new UnsupportedOperationException("this hypervisor back end cannot map device memory into the guest");
    }

    /**
     * Routes {@code gsi} (at or above the IOAPIC's 24 inputs) to {@code message},
     * so an irqfd on it delivers that MSI. Replaces an earlier route of the same GSI.
     *
     * @throws IllegalArgumentException if {@code gsi} is an IOAPIC input or beyond the host's routing table
     */
    void routeMsi(int gsi, MsiMessage message);

    /**
     * Reserves a GSI for an MSI route that no other user of this VM holds (the lowest free
     * one at or above the IOAPIC's inputs), for {@link #routeMsi} and {@link #bindIrqFd}.
     * Devices that route MSIs in the kernel (passthrough, irqfd-driven virtio) take their
     * GSIs here so they never collide. Thread-safe.
     *
     * @throws HypervisorException if the host's routing table has no free entry
     */
    default int allocateMsiGsi() {
        throw new UnsupportedOperationException("this hypervisor back end has no MSI routing");
    }

    /**
     * Gives back a GSI from {@link #allocateMsiGsi} and drops its route. Irqfds on it must be
     * closed first. Releasing a GSI that is not allocated is no error.
     */
    default void releaseMsiGsi(int gsi) {
        throw new UnsupportedOperationException("this hypervisor back end has no MSI routing");
    }

    /**
     * Puts the in-kernel interrupt controllers and timer (PICs, IOAPIC, PIT)
     * back in the state they were created in, for a machine reset; the LAPICs
     * are the vCPUs' state. Nothing happens without an in-kernel irqchip.
     * Only while no vCPU runs (paused).
     *
     * @throws HypervisorException if the host refuses
     */
    void resetInterruptControllers();

    /**
     * The back end's VM-wide state for a snapshot, in its own versioned form: the guest's clock, and the
     * in-kernel interrupt controllers and timers with their MSI routes (the local APICs included). Only while
     * no vCPU runs (paused).
     *
     * @throws UnsupportedOperationException when the back end cannot take snapshots, with a one-line reason
     */
    default DeviceState saveState() {
        throw new UnsupportedOperationException("this hypervisor back end cannot take snapshots");
    }

    /**
     * Puts back a state from {@link #saveState()} of the same back end into a VM made with the same
     * configuration, before any vCPU runs: the guest's clock goes on from the saved time.
     *
     * @throws IncompatibleStateException when the state is not this back end's or cannot be read
     * @throws UnsupportedOperationException              when the back end cannot restore snapshots
     */
    default void restoreState(DeviceState state) {
        throw new UnsupportedOperationException("this hypervisor back end cannot restore snapshots");
    }

    /**
     * Destroys the VM. Every vCPU must have stopped running; guest memory is
     * left mapped for its owner.
     */
    @Override
    void close();
}
