package device.uart.model;

import static device.uart.model.UartRegisters.*;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The 16550A as a pure state machine: registers, the two 16-byte FIFOs and
 * the interrupt logic, with no bus, thread, clock or back end. The guest side
 * is {@link #read(int)} / {@link #write(int, int)}; the line side is
 * {@link #receive(int, int)}, {@link #lineIdle()}, {@link #takeTransmitted(byte[])}
 * and {@link #setModemInputs(int)}; the output is {@link #interruptPending()}
 * (the INTRPT pin) and the bytes taken from the transmitter.
 *
 * <p>Time is not modelled. Characters move when the caller moves them: a
 * byte written to THR stays in the transmitter FIFO until the line side
 * takes it (then, if the FIFO emptied, THRE is raised); a received byte is
 * in the receiver FIFO as soon as {@link #receive} returns. The character
 * timeout, which hardware raises four character times after the last
 * character when data sits below the trigger level, is raised here when the
 * line side says the line went quiet ({@link #lineIdle()}), i.e. the input
 * burst ended; a back end says so after each read from its source. A timer
 * would only delay what the guest would see anyway, and would make the model
 * depend on a clock.
 *
 * <p>Not thread-safe: the owner serializes every call (the wiring holds one
 * lock around each access). Offsets are 0..7 and values 0..255; other bits
 * are ignored.
 */
public final class UartModel {
    /** {@link DeviceState} type of {@link #saveState()}. */
    public static final String STATE_TYPE = "uart-16550a";
    /** Newest state version this build writes and reads. */
    public static final int STATE_VERSION = 1;
    /** Divisor at power-on: 9600 baud from the PC's 1.8432 MHz clock. */
    public static final int POWER_ON_DIVISOR = 12;
    /**
     * Modem inputs at power-on: a peer that is always there (CTS, DSR, DCD),
     * so a guest that honours carrier or flow control opens the port and sends.
     */
    public static final int DEFAULT_MODEM_INPUTS = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;

    private static final int ERR_MASK = UART_LSR_PE | UART_LSR_FE | UART_LSR_BI;

    private final byte[] rx = new byte[FIFO_SIZE];
    /** Per received character: its PE/FE/BI bits, revealed in LSR when it reaches the top. */
    private final byte[] rxErr = new byte[FIFO_SIZE];
    private int rxHead, rxCount;
    private final byte[] tx = new byte[FIFO_SIZE];
    private int txHead, txCount;

    private int ier, lcr, mcr, scr;
    private int dll = POWER_ON_DIVISOR, dlm;
    /** FCR bits that persist: enable, DMA select, trigger. */
    private int fcr;
    /** Last character read from RBR: what RBR reads as when the FIFO is empty. */
    private int rbr;
    /** OE/PE/FE/BI as LSR shows them until the next LSR read. */
    private int lsrErrors;
    /**
     * LSR bit 7: set when a character with an error enters the FIFO; an LSR
     * read clears it unless characters behind the one it reports have errors.
     */
    private boolean fifoError;
    /** MSR bits 0-3 since the last MSR read. */
    private int msrDeltas;
    /** What the peer drives on CTS, DSR, RI, DCD (MSR bit positions). */
    private int modemInputs = DEFAULT_MODEM_INPUTS;
    /**
     * The THRE interrupt latch: set when the transmitter empties and when
     * IER.ETBEI rises while it is empty; cleared by an IIR read that reports
     * it, by a THR write, and when ETBEI falls.
     */
    private boolean threPending;
    /** The line went quiet after the last received character (character-timeout condition). */
    private boolean lineIdle;
    /** Characters lost to overrun or to a full transmitter, for diagnostics; not guest-visible. */
    private long rxOverruns, txOverflows;

    /** A UART in its power-on state. */
    public UartModel() {}

    // ====================================================================
    // guest side
    // ====================================================================

    /** The guest reads the register at {@code offset} (0..7); returns 0..255. */
    public int read(int offset) {
        boolean dlab = (lcr & UART_LCR_DLAB) != 0;
        return switch (offset & 7) {
            case UART_RX -> dlab ? dll : readRbr();
            case UART_IER -> dlab ? dlm : ier;
            case UART_IIR -> readIir();
            case UART_LCR -> lcr;
            case UART_MCR -> mcr;
            case UART_LSR -> readLsr();
            case UART_MSR -> readMsr();
            default -> scr;
        };
    }

    /** The guest writes the low byte of {@code value} to the register at {@code offset} (0..7). */
    public void write(int offset, int value) {
        int v = value & 0xff;
        boolean dlab = (lcr & UART_LCR_DLAB) != 0;
        switch (offset & 7) {
            case UART_TX -> {
                if (dlab) dll = v;
                else writeThr(v);
            }
            case UART_IER -> {
                if (dlab) dlm = v;
                else writeIer(v);
            }
            case UART_FCR -> writeFcr(v);
            case UART_LCR -> lcr = v;
            case UART_MCR -> writeMcr(v);
            case UART_SCR -> scr = v;
            default -> {
                // LSR and MSR writes are the factory-test path of real parts; ignoring them is what PC software expects
            }
        }
    }

    private int readRbr() {
        if (rxCount == 0) return rbr;
        rbr = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        if (rxCount > 0) lsrErrors |= rxErr[rxHead];
        return rbr;
    }

    private int readIir() {
        int id = interruptId();
        if (id == UART_IIR_THRI) threPending = false;
        return id | (fifoEnabled() ? UART_IIR_FIFO_ENABLED : 0);
    }

    private int readLsr() {
        int v = lsr();
        lsrErrors = 0;
        fifoError = false;
        for (int i = 1; i < rxCount; i++) if (rxErr[(rxHead + i) % FIFO_SIZE] != 0) fifoError = true;
        return v;
    }

    private int readMsr() {
        int v = modemStatus() | msrDeltas;
        msrDeltas = 0;
        return v;
    }

    private void writeThr(int v) {
        threPending = false;
        if (loopback()) {
            // the transmitter's output is wired to the receiver: the character arrives at once, the line then goes
            // quiet, and the transmitter is empty again
            receive(v, 0);
            lineIdle = true;
            threPending = true;
            return;
        }
        if (txCount == txCapacity()) {
            txOverflows++;
            return;
        }
        tx[(txHead + txCount) % FIFO_SIZE] = (byte) v;
        txCount++;
    }

    private void writeIer(int v) {
        int old = ier;
        ier = v & UART_IER_MASK;
        boolean rose = (old & UART_IER_THRI) == 0 && (ier & UART_IER_THRI) != 0;
        boolean fell = (old & UART_IER_THRI) != 0 && (ier & UART_IER_THRI) == 0;
        // Enabling ETBEI while the transmitter is empty raises THRE again even if an IIR read had cleared it:
        // Linux's UART_BUG_THRE probe and Windows' serial driver (which rewrites IER 0 then 0x0f) depend on it.
        if (rose && txCount == 0) threPending = true;
        // while ETBEI is off the latch is unobservable and is sampled afresh on the next rise
        if (fell) threPending = false;
    }

    private void writeFcr(int v) {
        boolean wasEnabled = fifoEnabled();
        if ((v & UART_FCR_ENABLE_FIFO) == 0) {
            // the other bits are only programmed together with FCR0; turning the FIFOs off empties both
            if (wasEnabled) {
                clearRx();
                clearTx();
            }
            fcr = 0;
            return;
        }
        fcr = v & (UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_TRIGGER_MASK);
        if (!wasEnabled) {
            clearRx();
            clearTx();
        }
        if ((v & UART_FCR_CLEAR_RCVR) != 0) clearRx();
        if ((v & UART_FCR_CLEAR_XMIT) != 0) clearTx();
    }

    private void writeMcr(int v) {
        int before = modemStatus();
        mcr = v & UART_MCR_MASK;
        noteModemChange(before, modemStatus());
    }

    private void clearRx() {
        rxHead = 0;
        rxCount = 0;
        fifoError = false;
    }

    private void clearTx() {
        boolean hadData = txCount > 0;
        txHead = 0;
        txCount = 0;
        if (hadData) threPending = true;
    }

    // ====================================================================
    // line side
    // ====================================================================

    /**
     * Free places in the receiver FIFO for characters from the peer: 0 in
     * loopback, where the receiver is disconnected from the serial input.
     * A back end that never delivers more than this never causes an overrun.
     */
    public int rxRoom() {
        return loopback() ? 0 : rxCapacity() - rxCount;
    }

    /**
     * One character arrives on the serial input with {@code errors}
     * ({@link UartRegisters#UART_LSR_PE}, {@link UartRegisters#UART_LSR_FE},
     * {@link UartRegisters#UART_LSR_BI}; other bits are ignored). A full
     * receiver overruns as the datasheet says: in FIFO mode the new character
     * is lost, in 16450 mode it replaces the unread one; either way LSR.OE is
     * set. The line is no longer idle.
     */
    public void receive(int ch, int errors) {
        lineIdle = false;
        int err = errors & ERR_MASK;
        if (rxCount == rxCapacity()) {
            rxOverruns++;
            lsrErrors |= UART_LSR_OE;
            if (fifoEnabled()) return;
            rx[rxHead] = (byte) ch;
            rxErr[rxHead] = (byte) err;
            lsrErrors |= err;
            return;
        }
        int at = (rxHead + rxCount) % FIFO_SIZE;
        rx[at] = (byte) ch;
        rxErr[at] = (byte) err;
        rxCount++;
        if (err != 0 && fifoEnabled()) fifoError = true;
        if (rxCount == 1) lsrErrors |= err;
    }

    /** A break on the serial input: one NUL character flagged with BI. */
    public void receiveBreak() {
        receive(0, UART_LSR_BI);
    }

    /**
     * The serial input has been quiet since the last character: data sitting
     * below the trigger level now raises the character timeout. The next
     * {@link #receive} ends the quiet period.
     */
    public void lineIdle() {
        lineIdle = true;
    }

    /** Characters waiting in the transmitter. */
    public int txPending() {
        return txCount;
    }

    /**
     * Takes up to {@code dst.length} characters from the transmitter, oldest
     * first, as the line sends them; returns how many. When this empties the
     * transmitter, the THRE interrupt condition is raised.
     */
    public int takeTransmitted(byte[] dst) {
        int n = Math.min(dst.length, txCount);
        for (int i = 0; i < n; i++) {
            dst[i] = tx[txHead];
            txHead = (txHead + 1) % FIFO_SIZE;
        }
        txCount -= n;
        if (n > 0 && txCount == 0) threPending = true;
        return n;
    }

    /**
     * Sets what the peer drives on the modem inputs, as MSR status bits
     * ({@link UartRegisters#UART_MSR_CTS} | DSR | RI | DCD; other bits ignored).
     * Changes set MSR's delta bits unless loopback hides the inputs.
     */
    public void setModemInputs(int msrStatusBits) {
        int before = modemStatus();
        modemInputs = msrStatusBits & UART_MSR_STATUS_BITS;
        noteModemChange(before, modemStatus());
    }

    /** What the UART drives on DTR, RTS, OUT1, OUT2 (MCR bits); all inactive in loopback. */
    public int modemOutputs() {
        return loopback() ? 0 : mcr & (UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 | UART_MCR_OUT2);
    }

    // ====================================================================
    // outputs and derived state
    // ====================================================================

    /** The INTRPT output: whether an enabled interrupt condition is pending. */
    public boolean interruptPending() {
        return interruptId() != UART_IIR_NO_INT;
    }

    /** Whether the guest has put the UART in loopback (MCR bit 4). */
    public boolean loopback() {
        return (mcr & UART_MCR_LOOP) != 0;
    }

    /** Whether the FIFOs are on (FCR bit 0): 16-character FIFOs and trigger levels rather than 16450 single registers. */
    public boolean fifoEnabled() {
        return (fcr & UART_FCR_ENABLE_FIFO) != 0;
    }

    /** The divisor latch (DLM:DLL); a divisor of 0 is what the guest wrote, not a baud rate. */
    public int divisor() {
        return dlm << 8 | dll;
    }

    /** Characters in the receiver FIFO. */
    public int rxCount() {
        return rxCount;
    }

    /** Characters lost because the receiver was full. */
    public long rxOverruns() {
        return rxOverruns;
    }

    /** Characters the guest wrote to a full transmitter, lost. */
    public long txOverflows() {
        return txOverflows;
    }

    /** LSR as a read would return it, without the read's side effect. */
    public int lsr() {
        int v = lsrErrors;
        if (rxCount > 0) v |= UART_LSR_DR;
        if (txCount == 0) v |= UART_LSR_THRE | UART_LSR_TEMT;
        if (fifoEnabled() && fifoError) v |= UART_LSR_FIFOE;
        return v;
    }

    /** IIR bits 0-3 as a read would return them, without the read's side effect. */
    public int interruptId() {
        if ((ier & UART_IER_RLSI) != 0 && (lsrErrors & UART_LSR_BRK_ERROR_BITS) != 0) return UART_IIR_RLSI;
        if ((ier & UART_IER_RDI) != 0 && rxCount > 0) {
            if (!fifoEnabled() || rxCount >= triggerLevel(fcr)) return UART_IIR_RDI;
            if (lineIdle) return UART_IIR_RX_TIMEOUT;
        }
        if ((ier & UART_IER_THRI) != 0 && threPending) return UART_IIR_THRI;
        if ((ier & UART_IER_MSI) != 0 && msrDeltas != 0) return UART_IIR_MSI;
        return UART_IIR_NO_INT;
    }

    private int modemStatus() {
        if (!loopback()) return modemInputs;
        int v = 0;
        if ((mcr & UART_MCR_RTS) != 0) v |= UART_MSR_CTS;
        if ((mcr & UART_MCR_DTR) != 0) v |= UART_MSR_DSR;
        if ((mcr & UART_MCR_OUT1) != 0) v |= UART_MSR_RI;
        if ((mcr & UART_MCR_OUT2) != 0) v |= UART_MSR_DCD;
        return v;
    }

    private void noteModemChange(int before, int after) {
        int changed = before ^ after;
        if ((changed & UART_MSR_CTS) != 0) msrDeltas |= UART_MSR_DCTS;
        if ((changed & UART_MSR_DSR) != 0) msrDeltas |= UART_MSR_DDSR;
        if ((changed & UART_MSR_DCD) != 0) msrDeltas |= UART_MSR_DDCD;
        // only the trailing edge of ring (RI going inactive) is latched
        if ((before & UART_MSR_RI) != 0 && (after & UART_MSR_RI) == 0) msrDeltas |= UART_MSR_TERI;
    }

    private int rxCapacity() {
        return fifoEnabled() ? FIFO_SIZE : 1;
    }

    private int txCapacity() {
        return fifoEnabled() ? FIFO_SIZE : 1;
    }

    // ====================================================================
    // reset and state
    // ====================================================================

    /**
     * Master reset, per the datasheet's reset table: IER, FCR, LCR, MCR
     * cleared, FIFOs emptied, LSR back to 0x60, MSR deltas cleared, no
     * interrupt pending. The divisor latches and the scratch register keep
     * their values, as on the part; the peer's modem inputs are unchanged.
     */
    public void reset() {
        ier = 0;
        lcr = 0;
        mcr = 0;
        fcr = 0;
        clearRx();
        txHead = 0;
        txCount = 0;
        lsrErrors = 0;
        msrDeltas = 0;
        threPending = false;
        lineIdle = false;
    }

    /** Everything the guest can observe or will observe, including both FIFOs and the pending-interrupt latches. */
    public DeviceState saveState() {
        byte[] rxData = new byte[rxCount], rxErrors = new byte[rxCount], txData = new byte[txCount];
        for (int i = 0; i < rxCount; i++) {
            rxData[i] = rx[(rxHead + i) % FIFO_SIZE];
            rxErrors[i] = rxErr[(rxHead + i) % FIFO_SIZE];
        }
        for (int i = 0; i < txCount; i++) txData[i] = tx[(txHead + i) % FIFO_SIZE];
        return DeviceState.builder(STATE_TYPE, STATE_VERSION)
                .put("ier", ier).put("lcr", lcr).put("mcr", mcr).put("scr", scr)
                .put("dll", dll).put("dlm", dlm).put("fcr", fcr).put("rbr", rbr)
                .put("lsr-errors", lsrErrors).put("msr-deltas", msrDeltas).put("modem-inputs", modemInputs)
                .put("thre-pending", threPending).put("line-idle", lineIdle).put("fifo-error", fifoError)
                .put("rx", rxData).put("rx-errors", rxErrors).put("tx", txData)
                .put("rx-overruns", rxOverruns).put("tx-overflows", txOverflows)
                .build();
    }

    /**
     * Replaces this model's state with a saved one.
     *
     * @throws IncompatibleStateException when the state is of another type or
     *                                    version, or is inconsistent (a field out of range, more characters than
     *                                    the FIFO holds); this model is then unchanged
     */
    public void restoreState(DeviceState state) {
        state.require(STATE_TYPE, STATE_VERSION);
        int nIer = bits(state, "ier", UART_IER_MASK), nLcr = bits(state, "lcr", 0xff),
                nMcr = bits(state, "mcr", UART_MCR_MASK), nScr = bits(state, "scr", 0xff),
                nDll = bits(state, "dll", 0xff), nDlm = bits(state, "dlm", 0xff),
                nFcr = bits(state, "fcr", UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_TRIGGER_MASK),
                nRbr = bits(state, "rbr", 0xff), nErr = bits(state, "lsr-errors", UART_LSR_BRK_ERROR_BITS),
                nDelta = bits(state, "msr-deltas", UART_MSR_ANY_DELTA),
                nInputs = bits(state, "modem-inputs", UART_MSR_STATUS_BITS);
        byte[] rxData = state.getBytes("rx"), rxErrors = state.getBytes("rx-errors"), txData = state.getBytes("tx");
        int cap = (nFcr & UART_FCR_ENABLE_FIFO) != 0 ? FIFO_SIZE : 1;
        if (rxData.length > cap || txData.length > cap || rxErrors.length != rxData.length)
            throw new IncompatibleStateException(STATE_TYPE + " state holds " + rxData.length + " received and "
                    + txData.length + " transmit characters (with " + rxErrors.length + " error flags) for a FIFO of " + cap);
        for (byte e : rxErrors)
            if ((e & ~ERR_MASK) != 0) throw new IncompatibleStateException(STATE_TYPE + " state: bad receive error flags " + e);
        ier = nIer;
        lcr = nLcr;
        mcr = nMcr;
        scr = nScr;
        dll = nDll;
        dlm = nDlm;
        fcr = nFcr;
        rbr = nRbr;
        lsrErrors = nErr;
        msrDeltas = nDelta;
        modemInputs = nInputs;
        threPending = state.getBoolean("thre-pending");
        lineIdle = state.getBoolean("line-idle");
        fifoError = state.getBoolean("fifo-error");
        rxOverruns = state.getLong("rx-overruns", 0);
        txOverflows = state.getLong("tx-overflows", 0);
        rxHead = 0;
        rxCount = rxData.length;
        System.arraycopy(rxData, 0, rx, 0, rxData.length);
        System.arraycopy(rxErrors, 0, rxErr, 0, rxErrors.length);
        txHead = 0;
        txCount = txData.length;
        System.arraycopy(txData, 0, tx, 0, txData.length);
    }

    private static int bits(DeviceState s, String name, int mask) {
        long v = s.getLong(name);
        if ((v & ~(long) mask) != 0)
            throw new IncompatibleStateException(STATE_TYPE + " state: " + name + "=0x" + Long.toHexString(v) + " out of range");
        return (int) v;
    }

    @Override
    public String toString() {
        return String.format("16550A[ier=%02x iir=%02x lcr=%02x mcr=%02x lsr=%02x rx=%d tx=%d thre=%b]",
                ier, interruptId() | (fifoEnabled() ? UART_IIR_FIFO_ENABLED : 0), lcr, mcr, lsr(), rxCount, txCount, threPending);
    }
}
