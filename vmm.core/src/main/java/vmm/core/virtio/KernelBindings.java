package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;
import static vmm.core.virtio.VirtioPciTransport.MODERN_BAR;
import static vmm.core.virtio.VirtioPciTransport.NOTIFY_CFG_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.NOTIFY_OFF_MULTIPLIER;

import java.lang.System.Logger.Level;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.irq.MsiMessage;
import vmm.core.pci.PciFunction;

/**
 * The virtio-pci transport's kernel bindings (see the
 * {@link VirtioPciTransport} class comment): per queue an ioeventfd on the
 * notify address, per used MSI-X vector an irqfd on a GSI routed to the
 * vector's message. Every method but {@link #irqfdInterrupts()} is called
 * with the transport's lock held; the transport decides when the device is
 * active, this class what that means for the kernel.
 */
final class KernelBindings {
    private static final System.Logger LOG = System.getLogger("vmm.virtio");

    private final String owner;
    private final PciFunction function;
    private final int msixVectors;
    /** Null on a machine without a hypervisor. */
    private VirtualMachine vm;
    private GsiPool gsis;
    /** Per queue, the eventfd the device in place waits on (null: plain path); null while the device has none. */
    private EventFd[] consumerFds;
    private final Binding[] notifyBindings;
    private final long[] notifyBoundAt;
    private final EventFd[] notifyBoundFd;
    private final VectorRoute[] vectorRoutes;
    private final AtomicLong irqfdInterrupts = new AtomicLong();
    private boolean bindFailureLogged;

    /** One MSI-X vector's irqfd: its eventfd and GSI (kept once made), the message routed, the binding when live. */
    private static final class VectorRoute {
        final EventFd fd;
        final int gsi;
        MsiMessage routed;
        Binding irqfd;

        VectorRoute(EventFd fd, int gsi) {
            this.fd = fd;
            this.gsi = gsi;
        }
    }

    KernelBindings(String owner, PciFunction function, int queueCount, int msixVectors) {
        this.owner = owner;
        this.function = function;
        this.msixVectors = msixVectors;
        this.notifyBindings = new Binding[queueCount];
        this.notifyBoundAt = new long[queueCount];
        this.notifyBoundFd = new EventFd[queueCount];
        this.vectorRoutes = new VectorRoute[msixVectors];
    }

    /** Per queue the eventfd {@code d} consumes notifications on, or null when it takes none from the kernel. */
    static EventFd[] consumerFdsOf(VirtioDevice d, int queueCount) {
        if (!(d instanceof KernelNotified k)) return null;
        EventFd[] fds = new EventFd[queueCount];
        boolean any = false;
        for (int q = 0; q < queueCount; q++) {
            fds[q] = k.notifyEventFd(q);
            any |= fds[q] != null;
        }
        return any ? fds : null;
    }

    /** Starts binding inside {@code vm}; the owner's name is in the refusal of a second call. */
    void useHypervisorLocked(VirtualMachine vm, GsiPool gsis, EventFd[] fds) {
        if (this.vm != null) throw new IllegalStateException(owner + ": already bound to a hypervisor");
        this.vm = vm;
        this.gsis = gsis;
        this.consumerFds = fds;
    }

    /** The eventfds of the device now in place (see {@link #consumerFdsOf}); the next sync applies them. */
    void consumersLocked(EventFd[] fds) {
        consumerFds = fds;
    }

    long notifyAddressLocked(int q) {
        return q >= 0 && q < notifyBindings.length && notifyBindings[q] != null ? notifyBoundAt[q] : -1;
    }

    int irqfdGsiLocked(int v) {
        return v >= 0 && v < msixVectors && vectorRoutes[v] != null && vectorRoutes[v].irqfd != null
                ? vectorRoutes[v].gsi : -1;
    }

    long irqfdInterrupts() {
        return irqfdInterrupts.get();
    }

    /**
     * Signals vector {@code v}'s irqfd if it has one and the vector is
     * deliverable; false tells the caller to take the bus's MSI-X path.
     */
    boolean signalLocked(int v) {
        VectorRoute r = v < msixVectors ? vectorRoutes[v] : null;
        // Checked again here: a vector masked a moment ago must get its pending bit, not the irqfd.
        if (r == null || r.irqfd == null || function.msixMessage(v) == null) return false;
        // Counted first: once signalled, KVM may inject at once and whoever sees the
        // interrupt arrive (the guest's handler, a test) must find it counted.
        irqfdInterrupts.incrementAndGet();
        r.fd.signal();
        return true;
    }

    /**
     * Brings ioeventfd and irqfd bindings in line with the registers: bound
     * only while a consuming device is {@code active} (activated, not in
     * DEVICE_NEEDS_RESET, not detached), at the BAR's present address, for
     * enabled queues, with irqfds for the deliverable vectors of those queues.
     * A binding the host refuses leaves that queue or vector on the
     * user-space path, which always works.
     */
    void syncLocked(boolean active, QueueSlot[] queues) {
        if (vm == null) return;
        boolean on = active && consumerFds != null;
        long bar = on ? function.barAddress(MODERN_BAR) : -1;
        boolean[] vectorUsed = new boolean[msixVectors];
        for (QueueSlot s : queues) {
            int q = s.index;
            EventFd want = on && bar >= 0 && s.queue != null ? consumerFds[q] : null;
            long at = want == null ? -1 : bar + NOTIFY_CFG_OFFSET + (long) NOTIFY_OFF_MULTIPLIER * q;
            if (notifyBindings[q] != null && (notifyBoundAt[q] != at || notifyBoundFd[q] != want)) {
                unbind(notifyBindings[q]);
                notifyBindings[q] = null;
                notifyBoundFd[q] = null;
                notifyBoundAt[q] = -1;
            }
            if (want != null && notifyBindings[q] == null) {
                try {
                    notifyBindings[q] = vm.bindIoEvent(want, AddressSpace.MMIO, at, 2, OptionalLong.empty());
                    notifyBoundAt[q] = at;
                    notifyBoundFd[q] = want;
                } catch (RuntimeException e) {
                    bindFailed("ioeventfd for queue " + q + String.format(" at 0x%x", at), e);
                }
            }
            if (on && s.queue != null && s.vector != NO_VECTOR && s.vector < msixVectors) vectorUsed[s.vector] = true;
        }
        for (int v = 0; v < msixVectors; v++) syncVector(v, vectorUsed[v] ? function.msixMessage(v) : null);
    }

    private void syncVector(int v, MsiMessage msg) {
        VectorRoute r = vectorRoutes[v];
        if (msg == null) {
            if (r != null && r.irqfd != null) {
                unbind(r.irqfd);
                r.irqfd = null;
            }
            return;
        }
        try {
            if (r == null) {
                int gsi = gsis.allocate();
                try {
                    r = vectorRoutes[v] = new VectorRoute(vm.createEventFd(), gsi);
                } catch (RuntimeException e) {
                    gsis.free(gsi);
                    throw e;
                }
            }
            if (!msg.equals(r.routed)) {
                vm.routeMsi(r.gsi, msg);
                r.routed = msg;
            }
            if (r.irqfd == null) r.irqfd = vm.bindIrqFd(r.fd, r.gsi);
        } catch (RuntimeException e) {
            bindFailed("irqfd for MSI-X vector " + v, e);
        }
    }

    /** Closes the vectors' eventfds and frees their GSIs; after a last sync that removed every binding. */
    void closeLocked() {
        for (int v = 0; v < msixVectors; v++) {
            VectorRoute r = vectorRoutes[v];
            if (r == null) continue;
            try {
                r.fd.close();
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, "{0}: closing {1}: {2}", owner, r.fd, e.getMessage());
            }
            gsis.free(r.gsi);
            vectorRoutes[v] = null;
        }
    }

    /**
     * Closes a binding; a VM already destroyed (a machine closing tears the
     * VM down before its devices) took its bindings with it, so a refusal
     * then is only logged.
     */
    private void unbind(Binding b) {
        try {
            b.close();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "{0}: {1} could not be removed (the VM is gone?): {2}", owner, b, e.getMessage());
        }
    }

    private void bindFailed(String what, RuntimeException e) {
        if (bindFailureLogged) return;
        bindFailureLogged = true;
        LOG.log(Level.WARNING, "{0}: the host refused the {1}; it stays on the user-space path: {2}", owner, what,
                e.getMessage());
    }
}
