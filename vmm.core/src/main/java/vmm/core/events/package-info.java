/**
 * Java Flight Recorder events of the VMM: {@link vmm.core.events.VmExitEvent}
 * (one per VM exit a vCPU loop handles) and
 * {@link vmm.core.events.VirtioRequestEvent} (one per virtio request).
 * Record them with {@code -XX:StartFlightRecording} (see the README); while
 * no recording enables them they cost nothing measurable.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.core.events;
