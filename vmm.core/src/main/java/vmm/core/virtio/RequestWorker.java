package vmm.core.virtio;

import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The request plumbing of a simple virtio device, so that its own code is only what it does with a request: a
 * notify pops every chain the driver offered on that queue and hands each to one worker thread, which runs the
 * device's {@link Handler} and completes the chain with the bytes it wrote, in the order popped; {@link #pause()}
 * stops taking chains and waits until every chain taken is completed (what {@link VirtioDevice}'s pause, reset and
 * swap need); {@link #resume()} takes again and looks at every queue, so chains offered meanwhile are served. A
 * handler's {@link RuntimeException} is the device's error: the transport sets DEVICE_NEEDS_RESET. A guest error
 * in a ring was already reported by the queue. Thread-safe.
 */
public final class RequestWorker {
    /** How long a pause waits for the chains in flight before it gives up: a guard, not a timing. */
    private static final long DRAIN_BOUND_S = 10;

    /** What a device does with one request. */
    @FunctionalInterface
    public interface Handler {
        /**
         * Serves {@code chain}, popped from queue {@code queue}, on the worker thread; returns how many bytes it
         * wrote into the chain's device-writable buffers. Throws to report the device broken.
         */
        int serve(int queue, DescriptorChain chain) throws InterruptedException;
    }

    private final String name;
    private final int queues;
    private final Handler handler;
    private final ExecutorService worker;

    // Guarded by this.
    private VirtioContext context;
    private boolean paused;
    private int inFlight;

    /**
     * @param name    the device, for its thread's name and its error messages
     * @param queues  how many queues the device has (all are looked at on {@link #resume()})
     * @param handler serves each request, one at a time, on the worker thread
     */
    public RequestWorker(String name, int queues, Handler handler) {
        this.name = Objects.requireNonNull(name, "name");
        this.queues = queues;
        this.handler = Objects.requireNonNull(handler, "handler");
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /** The driver set DRIVER_OK, or a swap handed the device over: requests are served from {@code ctx}'s queues. */
    public synchronized void activate(VirtioContext ctx) {
        context = ctx;
    }

    /** The context in use, or null before activation and after a reset. */
    public synchronized VirtioContext context() {
        return context;
    }

    /** The driver notified {@code queue}: pops its chains for the worker. Any thread; never blocks on a request. */
    public void notify(int queue) {
        VirtioContext ctx;
        synchronized (this) {
            ctx = context;
            if (paused || ctx == null) return;
        }
        VirtQueue q = ctx.queue(queue);
        if (q == null) return;
        try {
            DescriptorChain c;
            while (true) {
                synchronized (this) {
                    // Checked again per chain: a pause that began meanwhile must find every popped chain counted.
                    if (paused || context != ctx) return;
                    c = q.pop();
                    if (c == null) return;
                    inFlight++;
                }
                DescriptorChain chain = c;
                try {
                    worker.execute(() -> serve(ctx, q, chain));
                } catch (RejectedExecutionException stopped) {
                    done();
                    return;
                }
            }
        } catch (VirtqueueException e) {
            // the queue reported the guest's error to the transport; the driver must reset
        }
    }

    private void serve(VirtioContext ctx, VirtQueue q, DescriptorChain c) {
        try {
            q.complete(c, handler.serve(q.index(), c));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            ctx.deviceError(name + ": " + e.getMessage());
        } finally {
            done();
        }
    }

    private synchronized void done() {
        inFlight--;
        notifyAll();
    }

    /** Chains taken and not yet completed. */
    public synchronized int inFlight() {
        return inFlight;
    }

    /**
     * Takes no more chains and waits until those taken are completed.
     *
     * @throws IllegalStateException when some are still in flight after {@value #DRAIN_BOUND_S} s, or interrupted
     */
    public synchronized void pause() {
        paused = true;
        drain();
    }

    /** Takes chains again, those offered while paused included. */
    public void resume() {
        synchronized (this) {
            paused = false;
        }
        for (int q = 0; q < queues; q++) notify(q);
    }

    /** The device reset: waits for the chains in flight and forgets the context; the next activation serves again. */
    public synchronized void reset() {
        drain();
        context = null;
    }

    /** Takes no more chains, waits for those in flight, forgets the context and ends the worker thread. */
    public void stop() {
        synchronized (this) {
            paused = true;
            drain();
            context = null;
        }
        worker.shutdownNow();
    }

    private void drain() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DRAIN_BOUND_S);
        while (inFlight > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0)
                throw new IllegalStateException(name + ": " + inFlight + " requests still in flight after "
                        + DRAIN_BOUND_S + " s");
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(name + ": interrupted while draining", e);
            }
        }
    }
}
