package vmm.core.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

class EnumCountersTest {
    enum C { PACKETS, BYTES, DROPPED }

    @Test
    void countsEachConstantOnItsOwn() {
        EnumCounters<C> c = new EnumCounters<>(C.class);
        c.increment(C.PACKETS);
        c.increment(C.PACKETS);
        c.add(C.BYTES, 1500);

        assertThat(c.get(C.PACKETS)).isEqualTo(2);
        assertThat(c.get(C.BYTES)).isEqualTo(1500);
        assertThat(c.get(C.DROPPED)).isZero();
        assertThat(c).hasToString("{packets=2, bytes=1500, dropped=0}");
    }

    @Test
    void aSnapshotRestoresTheSameValuesInConstantOrder() {
        EnumCounters<C> c = new EnumCounters<>(C.class);
        c.add(C.BYTES, 7);
        c.increment(C.DROPPED);
        EnumCounters<C> other = new EnumCounters<>(C.class);

        other.restore(List.copyOf(c.snapshot()));

        assertThat(c.snapshot()).containsExactly(0L, 7L, 1L);
        assertThat(other.snapshot()).containsExactly(0L, 7L, 1L);
    }

    @Test
    void aShorterSavedListLeavesTheLaterCountersAtZero() {
        EnumCounters<C> c = new EnumCounters<>(C.class);

        c.restore(List.of(5L));

        assertThat(c.snapshot()).containsExactly(5L, 0L, 0L);
    }

    @Test
    void aSavedListOfSomethingOtherThanCountsIsRefusedAndNothingAdopted() {
        EnumCounters<C> c = new EnumCounters<>(C.class);
        c.add(C.BYTES, 3);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.restore(List.of(5L, "many")))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("many");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.restore(List.of(-1L)))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("-1");

        assertThat(c.snapshot()).containsExactly(0L, 3L, 0L);
    }
}
