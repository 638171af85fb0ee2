package vmm.core.virtio;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;

/** An interrupt controller that remembers GSI levels and every MSI, for transport tests. */
final class RecordingIrqChip implements IrqChip {
    private final Map<Integer, Boolean> levels = new HashMap<>();
    private final List<MsiMessage> msis = new ArrayList<>();

    @Override
    public synchronized void setLevel(int gsi, boolean level) {
        levels.put(gsi, level);
    }

    @Override
    public synchronized void signalMsi(MsiMessage message) {
        msis.add(message);
    }

    synchronized boolean level(int gsi) {
        return levels.getOrDefault(gsi, false);
    }

    /** How many MSIs carried {@code data}. */
    synchronized int msiCount(int data) {
        int n = 0;
        for (MsiMessage m : msis) if (m.data() == data) n++;
        return n;
    }

    synchronized List<MsiMessage> msis() {
        return List.copyOf(msis);
    }

    synchronized void clear() {
        msis.clear();
    }
}
