package vmm.core.events;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One virtio request, from the moment the device popped its chain to the
 * moment it completed it (the event's duration). Emitted by the core's
 * {@code VirtQueue} for every device; costs nothing measurable while no
 * recording enables it.
 */
@Name("vmm.VirtioRequest")
@Label("Virtio Request")
@Category({"VMM", "Devices"})
@Description("A virtio request from pop to completion")
@StackTrace(false)
public final class VirtioRequestEvent extends jdk.jfr.Event {
    @Label("Device Instance")
    @Description("The device instance (its configuration PID), or empty outside an instance")
    public String device;

    @Label("Queue")
    public int queue;

    @Label("Descriptor Head")
    public int head;

    @Label("Bytes Read")
    @Description("Bytes the driver offered to the device (readable buffers)")
    @DataAmount
    public long bytesRead;

    @Label("Bytes Written")
    @Description("Bytes the device wrote (the used length)")
    @DataAmount
    public long bytesWritten;
}
