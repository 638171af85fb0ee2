package vmm.testing.guest;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import vmm.core.bus.IoHandler;
import vmm.testing.HangGuard;

/** A port a guest writes to tell the test something; the test takes the values in order. */
public final class Ports implements IoHandler {
    private final BlockingQueue<Long> values = new LinkedBlockingQueue<>();

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        values.add(value);
    }

    /** The next value the guest wrote; fails the test if none comes within a generous bound, instead of hanging. */
    public long next() throws InterruptedException {
        Long v = values.poll(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS);
        if (v == null) throw new AssertionError("the guest wrote nothing within " + HangGuard.BOUND.toSeconds() + " s");
        return v;
    }

    /** Values written so far and not taken. */
    public int pending() {
        return values.size();
    }
}
