package vmm.emu.internal.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.linux.Native;
import vmm.emu.internal.irq.EmuIrqChip;

/**
 * The VM's irqfds, what KVM does in the kernel: one thread polls every bound
 * eventfd and raises its GSI when it is signalled (an edge; with a resample
 * eventfd, a level the guest's EOI lowers, then the resample eventfd is
 * signalled). The thread starts with the first binding and stops on
 * {@link #close()}. Thread-safe.
 */
final class IrqFds implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.emu.irqfd");

    private record Entry(EventFd fd, EventFd resample, int gsi) {
    }

    private final EmuIrqChip chip;
    private final String name;
    private final List<Entry> entries = new CopyOnWriteArrayList<>();
    /** Signalled to make the poller look at {@link #entries} again or stop. */
    private final EmuEventFd wake = new EmuEventFd();
    private Thread thread;
    private volatile boolean closed;
    /** Where the next poll starts in the list, so a busy eventfd cannot starve the ones after it. */
    private int rotation;

    IrqFds(EmuIrqChip chip, String name) {
        this.chip = Objects.requireNonNull(chip, "chip");
        this.name = name;
    }

    /** Raises {@code gsi} as an edge whenever {@code fd} is signalled, until the binding is closed. */
    Binding bind(EventFd fd, int gsi) {
        return add(new Entry(Objects.requireNonNull(fd, "fd"), null, gsi));
    }

    /** Raises IOAPIC input {@code gsi} as a level when {@code fd} is signalled; the guest's EOI lowers it. */
    Binding bindResampling(EventFd fd, EventFd resample, int gsi) {
        Objects.requireNonNull(resample, "resample");
        Entry e = new Entry(Objects.requireNonNull(fd, "fd"), resample, gsi);
        chip.setEoiListener(gsi, () -> {
            chip.setLevel(gsi, false);
            resample.signal();
        });
        try {
            return add(e);
        } catch (RuntimeException x) {
            chip.setEoiListener(gsi, null);
            throw x;
        }
    }

    private synchronized Binding add(Entry e) {
        if (closed) throw new IllegalStateException("the VM is closed");
        for (Entry o : entries)
            if (o.fd == e.fd) throw new vmm.core.hypervisor.HypervisorException("the eventfd is bound to GSI " + o.gsi);
        entries.add(e);
        if (thread == null) {
            thread = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
            thread.start();
        }
        wake.signal();
        return () -> remove(e);
    }

    private void remove(Entry e) {
        if (!entries.remove(e)) return;
        if (e.resample != null) {
            chip.setEoiListener(e.gsi, null);
            chip.setLevel(e.gsi, false);
        }
        wake.signal();
    }

    private void loop() {
        while (!closed) {
            Entry[] now = entries.toArray(Entry[]::new);
            int[] fds = new int[now.length + 1];
            fds[0] = wake.fd();
            int start = now.length == 0 ? 0 : rotation++ % now.length;
            for (int i = 0; i < now.length; i++) fds[i + 1] = now[(start + i) % now.length].fd.fd();
            int ready;
            try {
                ready = Native.pollReadable(fds, -1);
            } catch (IOException x) {
                LOG.log(System.Logger.Level.ERROR, "irqfd poll failed; irqfds stop: " + x.getMessage());
                return;
            }
            if (ready == 0) {
                wake.poll();
                continue;
            }
            if (ready < 0) continue;
            Entry e = now[(start + ready - 1) % now.length];
            try {
                if (e.fd.poll() == 0) continue;
            } catch (UncheckedIOException | IllegalStateException x) {
                // The owner closed the eventfd without closing the binding: drop it rather than spin on it.
                LOG.log(System.Logger.Level.WARNING, "irqfd on GSI " + e.gsi + " dropped: " + x.getMessage());
                remove(e);
                continue;
            }
            if (!entries.contains(e)) continue;
            if (e.resample != null) {
                chip.setLevel(e.gsi, true);
            } else {
                chip.setLevel(e.gsi, true);
                chip.setLevel(e.gsi, false);
            }
        }
    }

    /** Stops the poller and waits for it; the bindings are dropped. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closed) return;
            closed = true;
            t = thread;
        }
        wake.signal();
        if (t != null) {
            boolean interrupted = false;
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException x) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        entries.clear();
        wake.close();
    }
}
