package vmm.core.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * A device's BAR registers that answer each read with {@code bar << 24 | offset}
 * (so a test can see which BAR and offset a guest access arrived at) and
 * remember every write.
 */
final class RecordingBarHandler implements BarHandler {
    record Access(boolean write, int bar, long offset, int size, long value) {}

    private final List<Access> accesses = new ArrayList<>();

    static long answer(int bar, long offset) {
        return (long) bar << 24 | offset;
    }

    @Override
    public synchronized long readBar(int bar, long offset, int size) {
        accesses.add(new Access(false, bar, offset, size, 0));
        return answer(bar, offset);
    }

    @Override
    public synchronized void writeBar(int bar, long offset, int size, long value) {
        accesses.add(new Access(true, bar, offset, size, value));
    }

    synchronized List<Access> accesses() {
        return List.copyOf(accesses);
    }

    synchronized void clear() {
        accesses.clear();
    }
}
