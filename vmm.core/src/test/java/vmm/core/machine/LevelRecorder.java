package vmm.core.machine;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;

/** An IOAPIC for the device-instance tests that remembers each input's level and drops MSIs. Thread-safe. */
final class LevelRecorder implements IrqChip {
    private final Map<Integer, Boolean> level = new ConcurrentHashMap<>();

    @Override
    public void setLevel(int gsi, boolean on) {
        level.put(gsi, on);
    }

    @Override
    public void signalMsi(MsiMessage message) {
    }

    boolean high(int gsi) {
        return level.getOrDefault(gsi, false);
    }
}
