package device.virtio_block;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtqueueException;

/**
 * Takes the requests of one virtqueue and runs them on the device's worker
 * pool, with at most {@code depth} taken and not yet completed. A notify
 * from a vCPU only schedules a "pump" on the device's dispatcher thread, so the vCPU that kicked
 * never pops or waits; a notify on a transport's I/O thread ({@link #kickHere()}) pumps right
 * there, saving that thread hand-off. A pump pops while there is room and hands each request to a
 * worker, except a lone one (nothing else in flight or offered), which it serves itself; a request
 * completing when the queue was full schedules the next pump. Chains beyond the depth
 * stay in the avail ring, where the guest put them.
 *
 * <p>Thread-safe. The server's lock is taken around {@link VirtQueue#pop()}
 * (so a pause or reset cannot slip between "may I pop" and "popped") but
 * never around a completion, which takes the queue's lock and may interrupt.
 */
final class QueueServer {
    private final int index, depth;
    private final Executor dispatcher, executor;
    private final BiConsumer<VirtQueue, DescriptorChain> handler;
    /** Whether a pump is scheduled and has not started yet; folds notifies that arrive meanwhile. */
    private final AtomicBoolean scheduled = new AtomicBoolean();

    // Guarded by this.
    private VirtQueue queue;
    private boolean paused;
    private int inFlight;

    /**
     * @param dispatcher runs pumps; kept apart from the workers so that popping never waits behind
     *                   requests blocked in I/O
     * @param executor   the workers that run requests
     * @param handler    serves one chain and completes it (or reports the device broken); runs on the
     *                   workers, concurrently for different chains, and must not throw
     */
    QueueServer(int index, int depth, Executor dispatcher, Executor executor, BiConsumer<VirtQueue, DescriptorChain> handler) {
        this.index = index;
        this.depth = depth;
        this.dispatcher = dispatcher;
        this.executor = executor;
        this.handler = handler;
    }

    /** Serves {@code q} from now on (null: the queue is gone, by reset or because the driver did not enable it). */
    synchronized void attach(VirtQueue q) {
        queue = q;
    }

    /** The driver offered buffers, or room may have appeared: schedules a pump. Any thread; never blocks. */
    void kick() {
        if (!scheduled.compareAndSet(false, true)) return;
        try {
            dispatcher.execute(this::scheduledPump);
        } catch (RejectedExecutionException e) {
            // stopped: nothing will be taken any more
            scheduled.set(false);
        }
    }

    /**
     * The driver offered buffers, on a thread the transport keeps for this queue's notifications:
     * pumps on the calling thread, serving a lone request here too. Takes at most {@code depth}
     * requests before it hands the rest to the dispatcher and returns, so a guest that keeps the
     * queue busy cannot hold the caller (and whatever it holds, such as a pause waiting for it).
     */
    void kickHere() {
        pump(depth);
    }

    /**
     * A deterministic run's notify: pops and serves every offered chain on the calling thread (the vCPU), one
     * at a time in ring order, so the guest sees the same completions in the same order on every run.
     */
    void serveAllHere() {
        while (true) {
            VirtQueue q = queue();
            DescriptorChain c = take(q);
            if (c == null) return;
            serve(q, c);
        }
    }

    private synchronized VirtQueue queue() {
        return queue;
    }

    /**
     * Pops the next chain of {@code q} (the queue the caller read) if the server may take one now: not paused,
     * {@code q} still served, room left. Counts it in flight; null when there is none or no room.
     */
    private synchronized DescriptorChain take(VirtQueue q) {
        if (paused || q == null || q != queue || inFlight >= depth) return null;
        DescriptorChain c;
        try {
            c = q.pop();
        } catch (VirtqueueException e) {
            return null; // the queue reported the guest's error to the transport; it is broken until reset
        }
        if (c != null) inFlight++;
        return c;
    }

    private void scheduledPump() {
        // Cleared before popping: a notify from here on schedules another pump, so none is lost.
        scheduled.set(false);
        pump(Integer.MAX_VALUE);
    }

    /** Pops while there is room, at most {@code budget} requests; past the budget a dispatcher pump goes on. */
    private void pump(int budget) {
        for (int taken = 0; ; taken++) {
            if (taken == budget) {
                kick();
                return;
            }
            VirtQueue q = queue();
            DescriptorChain c = take(q);
            if (c == null) return;
            if (inFlight() == 1 && !q.hasAvailable()) {
                // A lone request (queue depth 1): serving it here saves the hand-off to a worker, which is most
                // of its latency. A notify meanwhile is taken by the next pump, right after.
                serve(q, c);
                continue;
            }
            try {
                executor.execute(() -> serve(q, c));
            } catch (RejectedExecutionException e) {
                done();
                return;
            }
        }
    }

    private void serve(VirtQueue q, DescriptorChain c) {
        try {
            handler.accept(q, c);
        } finally {
            if (done()) kick();
        }
    }

    /** Counts a request finished; returns whether the queue was full, so that a pump must look again. */
    private synchronized boolean done() {
        boolean wasFull = inFlight == depth;
        inFlight--;
        notifyAll();
        return wasFull;
    }

    /** Takes no new requests until {@link #resume()}; those in flight go on. */
    synchronized void pause() {
        paused = true;
    }

    /** Takes requests again, including those offered while paused. */
    void resume() {
        synchronized (this) {
            paused = false;
        }
        kick();
    }

    /** Requests taken and not yet finished. */
    synchronized int inFlight() {
        return inFlight;
    }

    /**
     * Waits until every request taken has finished (completed, with its
     * interrupt sent).
     *
     * @throws IllegalStateException when that takes longer than {@code timeoutNanos}, or the thread is interrupted
     */
    synchronized void awaitIdle(long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        while (inFlight > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0)
                throw new IllegalStateException("virtio-blk queue " + index + ": " + inFlight + " requests still in flight after "
                        + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s");
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while draining virtio-blk queue " + index, e);
            }
        }
    }
}
