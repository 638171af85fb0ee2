package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class IoLoopGateTest {
    /** What a loop waits on when a turn found nothing to do, as a device waits on its eventfd. */
    private final Object sleeper = new Object();
    private final AtomicInteger wakes = new AtomicInteger();
    private final IoLoopGate gate = new IoLoopGate("test: the loops", 2, () -> {
        wakes.incrementAndGet();
        synchronized (sleeper) {
            sleeper.notifyAll();
        }
    });
    private final VirtioContext ctx = mock(VirtioContext.class);

    /** A loop thread that counts its turns and waits for a wake after each. */
    private final class Loop {
        final int id;
        final AtomicInteger turns = new AtomicInteger();
        final AtomicInteger parks = new AtomicInteger();
        final CountDownLatch firstTurn = new CountDownLatch(1);
        final AtomicBoolean wantWork = new AtomicBoolean(true);
        final Thread thread;

        Loop(int id) {
            this.id = id;
            this.thread = Thread.ofPlatform().daemon().start(this::run);
        }

        void run() {
            while (true) {
                VirtioContext c = gate.next(id, () -> false, parks::incrementAndGet);
                if (c == null) return;
                assertThat(c).isSameAs(ctx);
                turns.incrementAndGet();
                firstTurn.countDown();
                synchronized (sleeper) {
                    try {
                        sleeper.wait(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }
    }

    @Test
    void loopsDoNotTurnBeforeActivation_andTurnAfter() throws Exception {
        Loop a = new Loop(0), b = new Loop(1);
        gate.activate(ctx, () -> { });
        assertThat(a.firstTurn.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(b.firstTurn.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(gate.stop()).isTrue();
        assertThat(gate.join(a.thread, b.thread)).isTrue();
        assertThat(gate.closed()).isTrue();
    }

    @Test
    void pauseReturnsWithEveryLoopParked_andTheParkHookRunOnce() throws Exception {
        Loop a = new Loop(0), b = new Loop(1);
        gate.activate(ctx, () -> { });
        a.firstTurn.await(30, TimeUnit.SECONDS);
        b.firstTurn.await(30, TimeUnit.SECONDS);
        gate.pause();
        int turnsA = a.turns.get(), turnsB = b.turns.get();
        assertThat(a.parks.get()).isEqualTo(1);
        assertThat(b.parks.get()).isEqualTo(1);
        // Parked loops stay parked: a wake under the lock finds them waiting again.
        gate.update(() -> { });
        synchronized (gate.lock()) {
            assertThat(a.turns.get()).isEqualTo(turnsA);
            assertThat(b.turns.get()).isEqualTo(turnsB);
        }
        gate.stop();
        gate.join(a.thread, b.thread);
    }

    @Test
    void resetRunsItsWorkWithTheLoopsParked_forgetsTheContext_andKeepsThePauseAsItWas() throws Exception {
        Loop a = new Loop(0), b = new Loop(1);
        gate.activate(ctx, () -> { });
        a.firstTurn.await(30, TimeUnit.SECONDS);
        AtomicBoolean ran = new AtomicBoolean();
        gate.reset(() -> ran.set(a.parks.get() > 0));
        assertThat(ran).isTrue();
        assertThat(gate.context()).isNull();
        gate.stop();
        gate.join(a.thread, b.thread);
    }

    @Test
    void stopEndsTheLoopsOnce_andLaterControlCallsDoNothing() {
        Loop a = new Loop(0), b = new Loop(1);
        assertThat(gate.stop()).isTrue();
        assertThat(gate.join(a.thread, b.thread)).isTrue();
        assertThat(gate.stop()).isFalse();
        gate.pause();
        gate.resume();
        assertThat(wakes).hasValue(1);
        assertThat(gate.next(0, () -> false, () -> { })).isNull();
    }
}
