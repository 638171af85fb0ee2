package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import vmm.emu.internal.cpu.VirtualClock;

class TimerSchedulerTest {
    private final ManualClock clock = new ManualClock();
    private final Object lock = new Object();

    /** A model firing at the given deadlines in turn; records the times it was advanced to. */
    private static final class Script implements Timed {
        final List<Long> advancedTo = new ArrayList<>();
        final long[] deadlines;
        int next;
        final CountDownLatch fired = new CountDownLatch(1);

        Script(long... deadlines) {
            this.deadlines = deadlines;
        }

        @Override
        public long nextDeadline() {
            return next < deadlines.length ? deadlines[next] : NEVER;
        }

        @Override
        public void advanceTo(long now) {
            advancedTo.add(now);
            while (next < deadlines.length && deadlines[next] <= now) next++;
            fired.countDown();
        }
    }

    @Test
    void runDueAdvancesOnlyTheModelsThatAreDueAndReturnsTheEarliestDeadlineLeft() {
        TimerScheduler s = new TimerScheduler(clock, lock);
        Script a = new Script(100, 300), b = new Script(200);
        s.add(a);
        s.add(b);
        clock.set(150);
        assertThat(s.runDue()).isEqualTo(200);
        assertThat(a.advancedTo).containsExactly(150L);
        assertThat(b.advancedTo).isEmpty();
        clock.set(1000);
        assertThat(s.runDue()).isEqualTo(Timed.NEVER);
        assertThat(b.advancedTo).containsExactly(1000L);
    }

    @Test
    void theTimerThreadRunsAModelOnceTheClockReachesItsDeadline() throws InterruptedException {
        try (TimerScheduler s = new TimerScheduler(clock, lock)) {
            Script a = new Script(1_000);
            s.add(a);
            s.start("test-timers");
            clock.set(1_000);
            s.changed();
            // A hang guard only: the thread is woken by changed().
            assertThat(a.fired.await(30, TimeUnit.SECONDS)).isTrue();
            synchronized (lock) {
                assertThat(a.advancedTo).containsExactly(1_000L);
            }
        }
    }

    @Test
    void closeStopsTheThreadAndAStartAfterCloseIsRefused() {
        TimerScheduler s = new TimerScheduler(clock, lock);
        s.start("test-timers");
        s.close();
        assertThatThrownBy(() -> s.start("again")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void manualClockMovesOnlyForward() {
        clock.set(10);
        assertThat(clock.advance(5)).isEqualTo(15);
        assertThatThrownBy(() -> clock.set(14)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> clock.advance(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void hostClockStartsNearZeroAndDoesNotGoBack() {
        VirtualClock c = VirtualClock.host();
        long a = c.nanos(), b = c.nanos();
        assertThat(a).isNotNegative();
        assertThat(b).isGreaterThanOrEqualTo(a);
    }
}
