package vmm.core.irq;

import java.util.concurrent.atomic.AtomicBoolean;

/** An {@link InterruptLine} wired straight to one GSI of an {@link IrqChip}. */
public final class GsiLine implements InterruptLine {
    private final IrqChip chip;
    private final int gsi;
    private final AtomicBoolean raised = new AtomicBoolean();

    public GsiLine(IrqChip chip, int gsi) {
        this.chip = chip;
        this.gsi = gsi;
    }

    public int gsi() {
        return gsi;
    }

    @Override
    public void raise() {
        if (raised.compareAndSet(false, true)) chip.setLevel(gsi, true);
    }

    @Override
    public void lower() {
        if (raised.compareAndSet(true, false)) chip.setLevel(gsi, false);
    }

    @Override
    public boolean isRaised() {
        return raised.get();
    }
}
