package vmm.core.internal.chipset;

import vmm.core.platform.PowerControl;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The reset control register at 0xCF9 (PIIX/ICH "RCR"): writing bit 2
 * (RST_CPU) resets the machine, as Linux's {@code reboot=pci} and firmware
 * do. Bit 1 (SYS_RST, hard reset) is kept and read back. Thread-safe.
 */
public final class ResetControl {
    public static final int PORT = 0xcf9;
    static final int SYS_RST = 0x02, RST_CPU = 0x04;

    private final PowerControl power;
    private int value;

    public ResetControl(PowerControl power) {
        this.power = power;
    }

    /** Power-on value for a machine reset. */
    public synchronized void reset() {
        value = 0;
    }

    synchronized int read() {
        return value;
    }

    void write(int v) {
        boolean reset;
        synchronized (this) {
            value = v & SYS_RST;
            reset = (v & RST_CPU) != 0;
        }
        if (reset) power.reset("reset control register 0xcf9");
    }

    public synchronized DeviceState save() {
        return DeviceState.builder("vmm.platform.reset-control", 1).put("value", value).build();
    }

    /** Puts back the register's value without acting on it (no reset). */
    public synchronized void restore(DeviceState s) {
        s.require("vmm.platform.reset-control", 1);
        long v = s.getLong("value");
        if ((v & ~SYS_RST) != 0)
            throw new IncompatibleStateException("vmm.platform.reset-control state: only SYS_RST is kept");
        value = (int) v;
    }
}
