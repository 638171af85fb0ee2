package vmm.core.hypervisor;

import java.util.Map;
import java.util.OptionalLong;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * One virtual CPU. {@link #run} is called by one thread at a time (the
 * vCPU's own thread); {@link #kick} from any thread. Register and state access
 * is for that same thread, or for any thread while the vCPU is not running
 * (before start, while paused).
 */
public interface Vcpu extends AutoCloseable {
    /** The index given to {@link VirtualMachine#createVcpu}. */
    int index();

    /**
     * Runs guest code until an exit the caller must act on. Port and MMIO
     * accesses are answered from {@code ports} and {@code mmio} without
     * returning (string I/O one element after another); everything else
     * returns as a {@link VcpuExit}. A pending {@link #kick} makes it return
     * {@link VcpuExit.Interrupted} before or instead of running.
     *
     * @throws HypervisorException   if the host fails the run (not a guest error)
     * @throws GuestStateException   if the exit carries values outside what the host ABI allows
     * @throws RuntimeException      whatever a bus handler throws, with the guest state left consistent
     */
    VcpuExit run(IoPortBus ports, MmioBus mmio);

    /**
     * Makes the current or next {@link #run} return {@link VcpuExit.Interrupted}
     * promptly, even from a guest that never exits by itself. Any thread; a kick
     * while not running is remembered once.
     */
    void kick();

    /** The general-purpose registers, RIP and RFLAGS. */
    Registers registers();

    void setRegisters(Registers registers);

    /** Segment, descriptor-table and control registers, EFER and the APIC base. */
    SpecialRegisters specialRegisters();

    void setSpecialRegisters(SpecialRegisters registers);

    /**
     * The guest-physical address that {@code linearAddress} maps to under the
     * vCPU's current paging mode, or empty when it is not mapped.
     */
    OptionalLong translate(long linearAddress);

    /**
     * Reads the model-specific registers {@code indices}; an MSR the host does not
     * let the guest have is left out of the answer.
     */
    Map<Integer, Long> msrs(int... indices);

    /**
     * Writes MSRs.
     *
     * @throws HypervisorException naming the first MSR the host refused
     */
    void setMsrs(Map<Integer, Long> values);

    /**
     * A block of vCPU state in the back end's own binary form, for save and
     * restore by the same back end; see {@link VcpuStateBlock} for what each holds.
     */
    byte[] state(VcpuStateBlock block);

    /**
     * Restores a block read by {@link #state} on the same back end.
     *
     * @throws IllegalArgumentException if {@code data} is not the block's size
     */
    void setState(VcpuStateBlock block, byte[] data);

    /**
     * The vCPU's whole state for a snapshot, in the back end's own versioned form: registers, MSRs, FPU and
     * SSE state, pending events and multiprocessing state. Only while the vCPU is not running (paused).
     *
     * @throws UnsupportedOperationException when the back end cannot take snapshots, with a one-line reason
     */
    default DeviceState saveState() {
        throw new UnsupportedOperationException("this hypervisor back end cannot save a vCPU's state for a snapshot");
    }

    /**
     * Puts back a state from {@link #saveState()} of the same back end, before the vCPU runs again.
     *
     * @throws IncompatibleStateException when the state is not this back end's, of a version it
     *                                                    does not read, or holds a value the back end refuses
     * @throws UnsupportedOperationException              when the back end cannot restore snapshots
     */
    default void restoreState(DeviceState state) {
        throw new UnsupportedOperationException("this hypervisor back end cannot restore a vCPU from a snapshot");
    }

    /** Releases the vCPU; it must not be running. */
    @Override
    void close();
}
