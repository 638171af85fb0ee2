package vmm.core;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.platform.PowerControl;

/** Test doubles that take every call and do nothing, for tests whose machine must have them but never looks. */
public final class Inert {
    /** An interrupt controller that drops every level change and MSI. */
    public static final IrqChip IRQS = new IrqChip() {
        @Override public void setLevel(int gsi, boolean level) { }
        @Override public void signalMsi(MsiMessage message) { }
    };

    /** Power control that ignores the guest's power-off and reset. */
    public static final PowerControl POWER = new PowerControl() {
        @Override public void powerOff(String how) { }
        @Override public void reset(String how) { }
    };

    private Inert() {}
}
