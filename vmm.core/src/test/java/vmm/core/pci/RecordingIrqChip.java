package vmm.core.pci;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;

/** An interrupt controller that remembers every level change and MSI it was given. */
final class RecordingIrqChip implements IrqChip {
    record LevelChange(int gsi, boolean level) {}

    private final Map<Integer, Boolean> levels = new HashMap<>();
    private final List<LevelChange> levelChanges = new ArrayList<>();
    private final List<MsiMessage> msis = new ArrayList<>();

    @Override
    public synchronized void setLevel(int gsi, boolean level) {
        levels.put(gsi, level);
        levelChanges.add(new LevelChange(gsi, level));
    }

    @Override
    public synchronized void signalMsi(MsiMessage message) {
        msis.add(message);
    }

    synchronized boolean level(int gsi) {
        return levels.getOrDefault(gsi, false);
    }

    synchronized List<LevelChange> levelChanges() {
        return List.copyOf(levelChanges);
    }

    synchronized List<MsiMessage> msis() {
        return List.copyOf(msis);
    }

    synchronized void clear() {
        levelChanges.clear();
        msis.clear();
    }
}
