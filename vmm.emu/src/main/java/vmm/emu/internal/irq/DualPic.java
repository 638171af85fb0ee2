package vmm.emu.internal.irq;

import java.util.Objects;
import vmm.core.device.DeviceState;

/**
 * The two cascaded 8259As of a PC with the PIIX's edge/level control
 * registers: master at ports 0x20/0x21 with inputs IRQ0-7, slave at
 * 0xA0/0xA1 with IRQ8-15 on the master's IR2, ELCR1/ELCR2 at 0x4D0/0x4D1.
 * {@link #acknowledge()} is the INTA cycle a CPU runs when it takes the
 * master's INT output; {@code outputChanged} hears every change of that
 * output. Not thread-safe.
 */
public final class DualPic implements PortDevice {
    public static final int MASTER_COMMAND = 0x20, MASTER_DATA = 0x21, SLAVE_COMMAND = 0xa0, SLAVE_DATA = 0xa1,
            ELCR1 = 0x4d0, ELCR2 = 0x4d1;
    static final int CASCADE_IRQ = 2, SPURIOUS_IRQ = 7;

    private final Pic8259 master = new Pic8259(true), slave = new Pic8259(false);
    private final Runnable outputChanged;
    private boolean output;

    /** @param outputChanged called (with the owner's lock held) whenever the master's INT output changes */
    public DualPic(Runnable outputChanged) {
        this.outputChanged = Objects.requireNonNull(outputChanged, "outputChanged");
    }

    /** Drives ISA input {@code irq} (0-15); IRQ2 is the cascade and cannot be driven from outside. */
    public void setIrq(int irq, boolean level) {
        if (irq < 0 || irq > 15 || irq == CASCADE_IRQ) return;
        if (irq < 8) master.setInput(irq, level);
        else slave.setInput(irq - 8, level);
        update();
    }

    /** The master's INT output: an unmasked request above everything in service. */
    public boolean output() {
        return output;
    }

    /**
     * The INTA cycle: the vector of the highest-priority request, with IRR moved to
     * ISR in the chip that owns it (and the master's IR2 for a slave input). With no
     * request any more (it went away after INT was raised) the master answers IRQ7's
     * vector and the slave IRQ15's, with no ISR bit set: the spurious interrupts.
     */
    public int acknowledge() {
        int vector;
        int irq = master.pendingIrq();
        if (irq < 0) {
            vector = master.vector(SPURIOUS_IRQ);
        } else {
            master.acknowledge(irq);
            if (irq == CASCADE_IRQ) {
                int s = slave.pendingIrq();
                if (s >= 0) {
                    slave.acknowledge(s);
                    vector = slave.vector(s);
                } else {
                    vector = slave.vector(SPURIOUS_IRQ);
                }
            } else {
                vector = master.vector(irq);
            }
        }
        update();
        return vector;
    }

    /** Puts both chips in their power-on state (ELCR edge everywhere). */
    public void reset() {
        master.reset();
        slave.reset();
        update();
    }

    /** Reads one of the ports this model owns; others read as all ones. */
    @Override
    public int read(int port) {
        int v = switch (port) {
            case MASTER_COMMAND -> commandRead(master);
            case MASTER_DATA -> master.readData();
            case SLAVE_COMMAND -> commandRead(slave);
            case SLAVE_DATA -> slave.readData();
            case ELCR1 -> master.readElcr();
            case ELCR2 -> slave.readElcr();
            default -> 0xff;
        };
        update();
        return v;
    }

    /** Writes one of the ports this model owns; others are ignored. */
    @Override
    public void write(int port, int value) {
        value &= 0xff;
        switch (port) {
            case MASTER_COMMAND -> master.writeCommand(value);
            case MASTER_DATA -> master.writeData(value);
            case SLAVE_COMMAND -> slave.writeCommand(value);
            case SLAVE_DATA -> slave.writeData(value);
            case ELCR1 -> master.writeElcr(value);
            case ELCR2 -> slave.writeElcr(value);
            default -> { }
        }
        update();
    }

    /**
     * The even port's read: a poll word if OCW3 asked for one (the read is then that
     * chip's interrupt acknowledge: bit 7 set and the IR number, or 0 with none),
     * else IRR or ISR.
     */
    private int commandRead(Pic8259 chip) {
        if (!chip.poll) return chip.readCommand();
        chip.poll = false;
        int irq = chip.pendingIrq();
        if (irq < 0) return 0;
        chip.acknowledge(irq);
        // Polling the slave serves the request the master latched on IR2 for it.
        if (!chip.isMaster()) master.irr &= ~(1 << CASCADE_IRQ);
        return Pic8259.POLL_INT | irq;
    }

    /** Feeds the slave's INT into the master's IR2 and reports a change of the master's INT. */
    private void update() {
        master.setInput(CASCADE_IRQ, slave.output());
        boolean now = master.output();
        if (now != output) {
            output = now;
            outputChanged.run();
        }
    }

    // For tests and the state dump.
    int irr(boolean ofMaster) { return (ofMaster ? master : slave).irr; }
    int isr(boolean ofMaster) { return (ofMaster ? master : slave).isr; }

    /** Both chips and the INT output, for a snapshot. */
    public DeviceState save() {
        return DeviceState.builder("vmm.emu.pic", 1).put("master", master.save())
                .put("slave", slave.save()).put("output", output).build();
    }

    /**
     * Puts back {@link #save()}'s state; the output is as saved, without telling the listener (the local APIC's
     * side of it is restored with the APIC).
     */
    public void restore(DeviceState s) {
        s.require("vmm.emu.pic", 1);
        master.restore(s.getState("master"));
        slave.restore(s.getState("slave"));
        output = s.getBoolean("output");
    }
}
