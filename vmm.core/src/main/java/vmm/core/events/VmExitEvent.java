package vmm.core.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One VM exit handled in user space by a vCPU's run loop: the event's
 * duration is the time from the hypervisor handing the exit back to the
 * loop being ready to enter the guest again (or returning). Emitted by the
 * hypervisor back end; costs nothing measurable while no recording enables it.
 */
@Name("vmm.VmExit")
@Label("VM Exit")
@Category({"VMM", "vCPU"})
@Description("A VM exit handled by the VMM's vCPU loop")
@StackTrace(false)
public final class VmExitEvent extends jdk.jfr.Event {
    @Label("vCPU")
    public int vcpu;

    @Label("Reason")
    @Description("The exit reason, e.g. KVM_EXIT_IO, KVM_EXIT_MMIO, KVM_EXIT_HLT")
    public String reason;

    @Label("Address")
    @Description("The I/O port (port I/O) or guest-physical address (MMIO); 0 for other exits")
    public long address;

    @Label("Size")
    @Description("Access size in bytes (port I/O, MMIO); 0 for other exits")
    public int size;

    @Label("Write")
    @Description("Whether the access was a write (port I/O out, MMIO write)")
    public boolean write;

    @Label("Count")
    @Description("Elements of a string port I/O instruction (rep ins/outs); 1 otherwise")
    public int count;
}
