package vmm.core.internal.chipset;

import java.lang.System.Logger.Level;
import java.util.function.LongSupplier;

import vmm.core.bus.IoHandler;
import vmm.core.irq.InterruptLine;
import vmm.core.platform.PowerControl;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The ACPI fixed-hardware registers of the PIIX4 power-management function
 * (ACPI 6.5 chapter 4.8): the PM1a event block (status, enable), the PM1a
 * control block whose SLP_EN with SLP_TYP 0 is the soft-off S5 the DSDT's
 * {@code _S5} names, the 24-bit PM timer counting at 3.579545 MHz, and the
 * GPE0 block QEMU's PIIX4 adds at {@link #GPE0_BASE} (status and enable, 16
 * events; {@link PciHotplug} raises its event there). The SCI is driven
 * while an enabled event's status is set, as a level.
 * Thread-safe.
 */
public final class AcpiPm {
    /** Offsets in the PM I/O block. */
    public static final int PM1A_EVT = 0x00, PM1A_STS = 0x00, PM1A_EN = 0x02, PM1A_CNT = 0x04, PM_TMR = 0x08;
    /** Bytes of the block. */
    public static final int BLOCK_SIZE = 0x40;
    public static final long PM_TIMER_FREQUENCY = 3_579_545L;
    static final int SLP_EN = 1 << 13, SLP_TYP_SHIFT = 10, SLP_TYP_MASK = 7;
    /** The SLP_TYP value of S5 (soft off) on this chipset, as in the DSDT. */
    public static final int SLP_TYP_S5 = 0;
    static final int SCI_EN = 1;
    /**
     * The GPE0 block: fixed at QEMU's port (the FADT's GPE0_BLK, not moved by PMBA), GPE0_STS in its first half
     * (write 1 to clear) and GPE0_EN in its second, byte access (QEMU's GPE_BASE, GPE_LEN).
     */
    public static final int GPE0_BASE = 0xafe0, GPE0_LEN = 4, GPE0_STS = 0, GPE0_EN = 2;
    /** PM1 events that raise the SCI when enabled: TMR, BM (never set here), GBL, PWRBTN, SLPBTN, RTC. */
    static final int PM1_SCI_EVENTS = 1 | 1 << 5 | 1 << 8 | 1 << 9 | 1 << 10;
    private static final System.Logger LOG = System.getLogger("vmm.platform");

    private final PowerControl power;
    private final LongSupplier nanos;
    private final InterruptLine sci;
    private int status, enable, control, gpeStatus, gpeEnable;

    /** A PM block with no SCI wired (events are recorded, nothing is raised). */
    public AcpiPm(PowerControl power, LongSupplier nanos) {
        this(power, nanos, null);
    }

    /** @param sci the SCI (ISA IRQ 9 on a PC, level, active high), or null for none */
    public AcpiPm(PowerControl power, LongSupplier nanos, InterruptLine sci) {
        this.power = power;
        this.nanos = nanos;
        this.sci = sci;
    }

    /** Power-on values for a machine reset: no event status or enable, SCI_EN and sleep bits clear. */
    public void reset() {
        synchronized (this) {
            status = enable = control = gpeStatus = gpeEnable = 0;
        }
        updateSci();
    }

    /** Sets general-purpose event {@code bit}'s status (0..15), raising the SCI when the guest enabled it. */
    public void raiseGpe(int bit) {
        if (bit < 0 || bit >= 8 * GPE0_LEN / 2) throw new IllegalArgumentException("GPE0 has events 0..15, not " + bit);
        synchronized (this) {
            gpeStatus |= 1 << bit;
        }
        updateSci();
    }

    /** Whether the SCI is asserted now: an enabled PM1 or GPE0 event has its status set. */
    public synchronized boolean sciLevel() {
        return (status & enable & PM1_SCI_EVENTS) != 0 || (gpeStatus & gpeEnable) != 0;
    }

    private void updateSci() {
        if (sci == null) return;
        // Under the lock so that two updates cannot leave the line at the older level.
        synchronized (this) {
            if (sciLevel()) sci.raise();
            else sci.lower();
        }
    }

    /** The GPE0 block's registers, for the I/O bus at {@link #GPE0_BASE}. */
    public IoHandler gpeRegisters() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                long v = 0;
                synchronized (AcpiPm.this) {
                    for (int i = 0; i < size; i++) {
                        int at = (int) offset + i;
                        int b = switch (at) {
                            case GPE0_STS, GPE0_STS + 1 -> gpeStatus >>> (8 * (at - GPE0_STS));
                            case GPE0_EN, GPE0_EN + 1 -> gpeEnable >>> (8 * (at - GPE0_EN));
                            default -> 0;
                        };
                        v |= (long) (b & 0xff) << (8 * i);
                    }
                }
                return v;
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (AcpiPm.this) {
                    for (int i = 0; i < size; i++) {
                        int at = (int) offset + i, b = (int) (value >>> (8 * i)) & 0xff;
                        switch (at) {
                            case GPE0_STS, GPE0_STS + 1 -> gpeStatus &= ~(b << (8 * (at - GPE0_STS))); // write 1 to clear
                            case GPE0_EN -> gpeEnable = gpeEnable & 0xff00 | b;
                            case GPE0_EN + 1 -> gpeEnable = gpeEnable & 0xff | b << 8;
                            default -> { }
                        }
                    }
                }
                updateSci();
            }
        };
    }

    public IoHandler registers() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                long v = 0;
                for (int i = 0; i < size; i++) v |= (long) readByte((int) offset + i) << (8 * i);
                return v;
            }

            @Override
            public void write(long offset, int size, long value) {
                writeBlock((int) offset, size, value);
            }
        };
    }

    private synchronized int readByte(int at) {
        return switch (at) {
            case PM1A_STS -> status & 0xff;
            case PM1A_STS + 1 -> status >>> 8;
            case PM1A_EN -> enable & 0xff;
            case PM1A_EN + 1 -> enable >>> 8;
            case PM1A_CNT -> control & 0xff;
            case PM1A_CNT + 1 -> control >>> 8;
            case PM_TMR, PM_TMR + 1, PM_TMR + 2 -> (int) (timer() >>> (8 * (at - PM_TMR))) & 0xff;
            default -> 0;
        };
    }

    /** The PM timer's 24-bit value now. */
    long timer() {
        long n = nanos.getAsLong();
        long ticks = n / 1_000_000_000L * PM_TIMER_FREQUENCY + n % 1_000_000_000L * PM_TIMER_FREQUENCY / 1_000_000_000L;
        return ticks & 0xffffff;
    }

    private void writeBlock(int offset, int size, long value) {
        boolean off = false;
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                int at = offset + i, b = (int) (value >>> (8 * i)) & 0xff;
                switch (at) {
                    case PM1A_STS -> status &= ~b;             // write 1 to clear
                    case PM1A_STS + 1 -> status &= ~(b << 8);
                    case PM1A_EN -> enable = enable & 0xff00 | b;
                    case PM1A_EN + 1 -> enable = enable & 0xff | b << 8;
                    case PM1A_CNT -> control = control & 0xff00 | b;
                    case PM1A_CNT + 1 -> control = control & 0xff | b << 8;
                    default -> { }
                }
            }
            if ((control & SLP_EN) != 0) {
                int type = (control >>> SLP_TYP_SHIFT) & SLP_TYP_MASK;
                control &= ~SLP_EN; // write-only bit
                if (type == SLP_TYP_S5) off = true;
                else LOG.log(Level.INFO, "guest asked for sleep type {0}; only S5 (soft off) is supported", type);
            }
        }
        updateSci();
        if (off) power.powerOff("ACPI S5 (PM1a control SLP_EN)");
    }

    /** PM1 status, enable and control, for a snapshot; the PM timer is the VM's time and needs nothing. */
    public synchronized DeviceState save() {
        return DeviceState.builder("vmm.platform.acpi-pm", 1).put("status", status).put("enable", enable)
                .put("control", control).put("gpe-status", gpeStatus).put("gpe-enable", gpeEnable).build();
    }

    /** Puts back {@link #save()}'s registers (a state from before the GPE0 block has its events clear) and the SCI level. */
    public void restore(DeviceState s) {
        synchronized (this) {
            s.require("vmm.platform.acpi-pm", 1);
            long st = s.getLong("status"), en = s.getLong("enable"), ct = s.getLong("control");
            long gs = s.getLong("gpe-status", 0), ge = s.getLong("gpe-enable", 0);
            if ((st | en | ct | gs | ge) >>> 16 != 0)
                throw new IncompatibleStateException("vmm.platform.acpi-pm state: PM1 and GPE0 registers are 16 bits");
            status = (int) st;
            enable = (int) en;
            control = (int) ct;
            gpeStatus = (int) gs;
            gpeEnable = (int) ge;
        }
        updateSci();
    }
}
