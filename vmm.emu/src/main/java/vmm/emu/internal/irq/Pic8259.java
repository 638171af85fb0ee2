package vmm.emu.internal.irq;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * One Intel 8259A programmable interrupt controller as a register model: the
 * initialization words ICW1-4, the operation words OCW1-3, IRR/ISR/IMR, the
 * priority resolver with rotation, edge and level inputs (per input through
 * the PIIX ELCR, or all of them with ICW1's LTIM), EOI and automatic EOI,
 * poll mode and special mask mode. The pair and its cascade are
 * {@link DualPic}. Not thread-safe.
 */
final class Pic8259 {
    // ICW1 (written to the even port with D4 set).
    static final int ICW1 = 0x10, ICW1_IC4 = 0x01, ICW1_SNGL = 0x02, ICW1_LTIM = 0x08;
    // OCW3 (even port, D4 clear, D3 set).
    static final int OCW3 = 0x08, OCW3_RIS = 0x01, OCW3_RR = 0x02, OCW3_P = 0x04, OCW3_SMM = 0x20, OCW3_ESMM = 0x40;
    // OCW2 commands, bits 7:5.
    static final int OCW2_ROTATE_AEOI_CLEAR = 0, OCW2_NONSPECIFIC_EOI = 1, OCW2_NOP = 2, OCW2_SPECIFIC_EOI = 3,
            OCW2_ROTATE_AEOI_SET = 4, OCW2_ROTATE_NONSPECIFIC_EOI = 5, OCW2_SET_PRIORITY = 6,
            OCW2_ROTATE_SPECIFIC_EOI = 7;
    // ICW4.
    static final int ICW4_AEOI = 0x02, ICW4_SFNM = 0x10;
    /** The poll word's "interrupt present" bit. */
    static final int POLL_INT = 0x80;

    private enum Init { READY, ICW2, ICW3, ICW4 }

    private final boolean master;
    /** Which ELCR bits exist: the PIIX hard-wires IRQ0-2 and IRQ8, IRQ13 to edge. */
    private final int elcrMask;

    int irr, isr, imr;
    /** The input levels as last driven, for edge detection. */
    int lines;
    int elcr;
    /** The IR number with the highest priority (0 until a rotation moves it). */
    int priorityBase;
    int vectorBase;
    boolean readIsr, poll, specialMask, autoEoi, rotateOnAutoEoi, specialFullyNested, levelAll, icw4Expected,
            single;
    private Init init = Init.READY;

    Pic8259(boolean master) {
        this.master = master;
        this.elcrMask = master ? 0xf8 : 0xde;
        reset();
    }

    /** Power-on state: as after ICW1, with the ELCR edge everywhere. */
    void reset() {
        elcr = 0;
        initReset();
        lines = 0;
        irr = 0;
    }

    /** What ICW1 does: clears IMR, ISR and the modes, and lowers every edge request. */
    private void initReset() {
        irr &= effectiveLevelMask();
        isr = 0;
        imr = 0;
        priorityBase = 0;
        vectorBase = 0;
        readIsr = poll = specialMask = autoEoi = rotateOnAutoEoi = specialFullyNested = false;
        levelAll = icw4Expected = single = false;
        init = Init.READY;
    }

    int effectiveLevelMask() {
        return levelAll ? 0xff : elcr;
    }

    /** Drives input {@code irq} (0-7) to {@code level}. */
    void setInput(int irq, boolean level) {
        int bit = 1 << irq;
        boolean was = (lines & bit) != 0;
        if (level) lines |= bit;
        else lines &= ~bit;
        if ((effectiveLevelMask() & bit) != 0) {
            // Level: the request follows the line.
            if (level) irr |= bit;
            else irr &= ~bit;
        } else if (level && !was) {
            // Edge: a rising edge latches a request that stays until acknowledged.
            irr |= bit;
        }
    }

    /** The priority (0 highest, 8 none) of the highest-priority bit of {@code mask}. */
    private int priorityOf(int mask) {
        if (mask == 0) return 8;
        int p = 0;
        while ((mask & (1 << ((p + priorityBase) & 7))) == 0) p++;
        return p;
    }

    /**
     * The IR the chip would interrupt the CPU for now (its INT output), or -1:
     * the highest-priority unmasked request above every in-service level, except
     * that special mask mode lets masked in-service levels not block, and special
     * fully nested mode lets the slave's input interrupt while it is in service.
     */
    int pendingIrq() {
        int req = irr & ~imr;
        int p = priorityOf(req);
        if (p == 8) return -1;
        int inService = isr;
        if (specialMask) inService &= ~imr;
        if (specialFullyNested && master) inService &= ~(1 << 2);
        return p < priorityOf(inService) ? (p + priorityBase) & 7 : -1;
    }

    boolean output() {
        return pendingIrq() >= 0;
    }

    /** The INTA cycle for {@code irq}: sets ISR (unless AEOI) and clears an edge request. */
    void acknowledge(int irq) {
        int bit = 1 << irq;
        if (autoEoi) {
            if (rotateOnAutoEoi) priorityBase = (irq + 1) & 7;
        } else {
            isr |= bit;
        }
        // A level request stays in IRR for as long as the line is driven.
        if ((effectiveLevelMask() & bit) == 0) irr &= ~bit;
    }

    /** The vector the chip puts on the bus for {@code irq} (ICW2's base plus the IR number). */
    int vector(int irq) {
        return vectorBase + irq;
    }

    /** Writes the even port (0x20/0xA0): ICW1, OCW2 or OCW3. */
    void writeCommand(int value) {
        if ((value & ICW1) != 0) {
            initReset();
            icw4Expected = (value & ICW1_IC4) != 0;
            single = (value & ICW1_SNGL) != 0;
            levelAll = (value & ICW1_LTIM) != 0;
            init = Init.ICW2;
        } else if ((value & OCW3) != 0) {
            if ((value & OCW3_P) != 0) poll = true;
            if ((value & OCW3_RR) != 0) readIsr = (value & OCW3_RIS) != 0;
            if ((value & OCW3_ESMM) != 0) specialMask = (value & OCW3_SMM) != 0;
        } else {
            ocw2(value >>> 5, value & 7);
        }
    }

    private void ocw2(int command, int level) {
        switch (command) {
            case OCW2_ROTATE_AEOI_CLEAR, OCW2_ROTATE_AEOI_SET -> rotateOnAutoEoi = command == OCW2_ROTATE_AEOI_SET;
            case OCW2_NONSPECIFIC_EOI, OCW2_ROTATE_NONSPECIFIC_EOI -> {
                // The highest-priority level in service ends (in special mask mode too:
                // the guest is expected to use specific EOIs there).
                int p = priorityOf(isr);
                if (p == 8) return;
                int irq = (p + priorityBase) & 7;
                isr &= ~(1 << irq);
                if (command == OCW2_ROTATE_NONSPECIFIC_EOI) priorityBase = (irq + 1) & 7;
            }
            case OCW2_SPECIFIC_EOI -> isr &= ~(1 << level);
            case OCW2_SET_PRIORITY -> priorityBase = (level + 1) & 7;
            case OCW2_ROTATE_SPECIFIC_EOI -> {
                isr &= ~(1 << level);
                priorityBase = (level + 1) & 7;
            }
            default -> { } // OCW2_NOP
        }
    }

    /** Writes the odd port (0x21/0xA1): ICW2-4 during initialization, else OCW1 (the mask). */
    void writeData(int value) {
        switch (init) {
            case READY -> imr = value & 0xff;
            case ICW2 -> {
                vectorBase = value & 0xf8;
                init = single ? (icw4Expected ? Init.ICW4 : Init.READY) : Init.ICW3;
            }
            case ICW3 -> init = icw4Expected ? Init.ICW4 : Init.READY; // the cascade is fixed: slave on IR2
            case ICW4 -> {
                autoEoi = (value & ICW4_AEOI) != 0;
                specialFullyNested = (value & ICW4_SFNM) != 0;
                init = Init.READY;
            }
        }
    }

    /** Reads the even port: IRR or ISR as OCW3 chose (poll reads go through {@link DualPic}). */
    int readCommand() {
        return readIsr ? isr : irr;
    }

    int readData() {
        return imr;
    }

    int readElcr() {
        return elcr;
    }

    void writeElcr(int value) {
        elcr = value & elcrMask;
        // An input turned to level follows its line from now on; one turned to edge keeps its latched request.
        irr = (irr & ~elcr) | (lines & elcr);
    }

    boolean isMaster() {
        return master;
    }

    boolean initializing() {
        return init != Init.READY;
    }

    /** The chip's registers and modes, for a snapshot. */
    DeviceState save() {
        return DeviceState.builder("vmm.emu.8259a", 1).put("irr", irr).put("isr", isr).put("imr", imr)
                .put("lines", lines).put("elcr", elcr).put("priority-base", priorityBase).put("vector-base", vectorBase)
                .put("read-isr", readIsr).put("poll", poll).put("special-mask", specialMask).put("auto-eoi", autoEoi)
                .put("rotate-on-auto-eoi", rotateOnAutoEoi).put("special-fully-nested", specialFullyNested)
                .put("level-all", levelAll).put("icw4-expected", icw4Expected).put("single", single)
                .put("init", init.ordinal()).build();
    }

    /** Puts back {@link #save()}'s state, checked first: a bad value changes nothing. */
    void restore(DeviceState s) {
        s.require("vmm.emu.8259a", 1);
        int nIrr = States.intRange(s, "irr", 0, 0xff), nIsr = States.intRange(s, "isr", 0, 0xff),
                nImr = States.intRange(s, "imr", 0, 0xff), nLines = States.intRange(s, "lines", 0, 0xff),
                nElcr = States.intRange(s, "elcr", 0, 0xff), nBase = States.intRange(s, "priority-base", 0, 7),
                nVector = States.intRange(s, "vector-base", 0, 0xf8),
                nInit = States.intRange(s, "init", 0, Init.values().length - 1);
        if ((nElcr & ~elcrMask) != 0 || (nVector & 7) != 0)
            throw new IncompatibleStateException("vmm.emu.8259a state: ELCR or vector base not as the chip"
                    + " can hold them");
        irr = nIrr;
        isr = nIsr;
        imr = nImr;
        lines = nLines;
        elcr = nElcr;
        priorityBase = nBase;
        vectorBase = nVector;
        readIsr = s.getBoolean("read-isr");
        poll = s.getBoolean("poll");
        specialMask = s.getBoolean("special-mask");
        autoEoi = s.getBoolean("auto-eoi");
        rotateOnAutoEoi = s.getBoolean("rotate-on-auto-eoi");
        specialFullyNested = s.getBoolean("special-fully-nested");
        levelAll = s.getBoolean("level-all");
        icw4Expected = s.getBoolean("icw4-expected");
        single = s.getBoolean("single");
        init = Init.values()[nInit];
    }
}
