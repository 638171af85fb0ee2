package device.uart.internal;

import static device.uart.model.UartRegisters.*;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

import vmm.core.bus.IoPortBus;

/**
 * The register traffic of Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c)
 * for one port, replayed on the I/O-port bus: the same registers in the same
 * order with the same values, and the same decisions from what it reads.
 * Functions are named after the kernel's; delays (udelay, mdelay) have no
 * counterpart because the model has no clock. The driver's verdicts are
 * recorded in {@link #type}, {@link #bugThre} and {@link #bugTxen}.
 *
 * <p>The replay includes the loopback existence test, which the kernel skips
 * for the PC's COM1-4 (they carry UPF_SKIP_TEST), so it asks a little more of
 * the UART than a PC boot does.
 */
final class Linux8250 {
    /** UART_LCR_CONF_MODE_A: DLAB, the access mode for EFR on some parts. */
    static final int UART_LCR_CONF_MODE_A = UART_LCR_DLAB;
    /** UART_LCR_CONF_MODE_B: 0xBF, the access mode for EFR on ST16C650V2 and friends. */
    static final int UART_LCR_CONF_MODE_B = 0xbf;
    /** EFR sits at IIR/FCR's offset in the configuration modes. */
    static final int UART_EFR = 2;
    static final int UART_FCR7_64BYTE = 0x20;
    static final int UART_IER_UUE = 0x40;
    static final int UART_FCR_R_TRIG_10 = UART_FCR_TRIGGER_8;

    private final IoPortBus bus;
    private final int base;
    private final BooleanSupplier irqLevel;

    String type = "none";
    int fifosize;
    boolean bugThre, bugTxen;
    int ier, mcr;
    final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private byte[] xmit = new byte[0];
    private int xmitTail;
    int interruptsHandled;

    Linux8250(IoPortBus bus, int base, BooleanSupplier irqLevel) {
        this.bus = bus;
        this.base = base;
        this.irqLevel = irqLevel;
    }

    int serialIn(int offset) {
        return (int) bus.read(base + offset, 1);
    }

    void serialOut(int offset, int value) {
        bus.write(base + offset, 1, value & 0xff);
    }

    // ---- probing: autoconfig() ----------------------------------------

    void autoconfig() {
        // simple existence test: IER bits 0-3 read back what was written
        int scratch = serialIn(UART_IER);
        serialOut(UART_IER, 0);
        int scratch2 = serialIn(UART_IER) & 0x0f;
        serialOut(UART_IER, 0x0f);
        int scratch3 = serialIn(UART_IER) & 0x0f;
        serialOut(UART_IER, scratch);
        if (scratch2 != 0 || scratch3 != 0x0f) return; // "IER test failed"

        int saveMcr = serialIn(UART_MCR);
        int saveLcr = serialIn(UART_LCR);

        // loopback test: RTS and OUT2 must come back as CTS and DCD
        serialOut(UART_MCR, UART_MCR_LOOP | 0x0a);
        int status1 = serialIn(UART_MSR) & 0xf0;
        serialOut(UART_MCR, saveMcr);
        if (status1 != 0x90) return; // "LOOP test failed"

        serialOut(UART_LCR, UART_LCR_CONF_MODE_B);
        serialOut(UART_EFR, 0);
        serialOut(UART_LCR, 0);

        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO);
        switch (serialIn(UART_IIR) >> 6) {
            case 0 -> autoconfig8250();
            case 1 -> type = "unknown";
            case 2 -> type = "16550";
            default -> autoconfig16550a();
        }

        serialOut(UART_LCR, saveLcr);
        fifosize = type.equals("16550A") ? 16 : 1;
        if (type.equals("unknown")) return;

        // reset the UART
        serialOut(UART_MCR, saveMcr);
        clearFifos();
        serialIn(UART_RX);
        serialOut(UART_IER, 0);
    }

    private void autoconfig8250() {
        type = "8250";
        int scratch = serialIn(UART_SCR);
        serialOut(UART_SCR, 0xa5);
        int s1 = serialIn(UART_SCR);
        serialOut(UART_SCR, 0x5a);
        int s2 = serialIn(UART_SCR);
        serialOut(UART_SCR, scratch);
        if (s1 == 0xa5 && s2 == 0x5a) type = "16450";
    }

    private void autoconfig16550a() {
        type = "16550A";
        // EFR with DLAB set: only ST16C650V1 answers 0
        serialOut(UART_LCR, UART_LCR_CONF_MODE_A);
        if (serialIn(UART_EFR) == 0) {
            serialOut(UART_EFR, 0xa8);
            type = serialIn(UART_EFR) != 0 ? "ST16650" : "16550A_FSL64 or Motorola";
            serialOut(UART_EFR, 0);
            return;
        }
        // EFR behind LCR=0xBF: ST16C650V2, TI16C752 and friends
        serialOut(UART_LCR, UART_LCR_CONF_MODE_B);
        if (serialIn(UART_EFR) == 0) {
            type = "EFR-capable (16650V2/16850/...)";
            return;
        }
        // National Semiconductor SuperIO: EXCR1 in bank 2 mirrors MCR's LOOP bit
        serialOut(UART_LCR, 0);
        int status1 = serialIn(UART_MCR);
        serialOut(UART_LCR, 0xe0);
        int status2 = serialIn(0x02);
        if (((status2 ^ status1) & UART_MCR_LOOP) == 0) {
            serialOut(UART_LCR, 0);
            serialOut(UART_MCR, status1 ^ UART_MCR_LOOP);
            serialOut(UART_LCR, 0xe0);
            status2 = serialIn(0x02);
            serialOut(UART_LCR, 0);
            serialOut(UART_MCR, status1);
            if (((status2 ^ status1) & UART_MCR_LOOP) != 0) {
                type = "NS16550A";
                return;
            }
        }
        // TI16750: IIR bit 5 answers FCR bit 5 only with DLAB set
        serialOut(UART_LCR, 0);
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
        status1 = serialIn(UART_IIR) >> 5;
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO);
        serialOut(UART_LCR, UART_LCR_CONF_MODE_A);
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
        status2 = serialIn(UART_IIR) >> 5;
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO);
        serialOut(UART_LCR, 0);
        if (status1 == 6 && status2 == 7) {
            type = "TI16750";
            return;
        }
        // XScale: IER bit 6 (UUE) is writable
        int iersave = serialIn(UART_IER);
        serialOut(UART_IER, iersave & ~UART_IER_UUE);
        if ((serialIn(UART_IER) & UART_IER_UUE) == 0) {
            serialOut(UART_IER, iersave | UART_IER_UUE);
            if ((serialIn(UART_IER) & UART_IER_UUE) != 0) {
                type = "XScale";
                return;
            }
        }
        serialOut(UART_IER, iersave);
        // 16550A or U6 16550A: count the FIFO
        if (sizeFifo() == 64) type = "U6_16550A";
    }

    /** size_fifo(): loop 256 characters back and count how many the receiver kept. */
    int sizeFifo() {
        int oldLcr = serialIn(UART_LCR);
        serialOut(UART_LCR, 0);
        int oldFcr = serialIn(UART_FCR); // reads IIR: the kernel does the same
        int oldMcr = serialIn(UART_MCR);
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
        serialOut(UART_MCR, UART_MCR_LOOP);
        serialOut(UART_LCR, UART_LCR_CONF_MODE_A);
        int oldDl = serialIn(UART_DLL) | serialIn(UART_DLM) << 8;
        serialOut(UART_DLL, 1);
        serialOut(UART_DLM, 0);
        serialOut(UART_LCR, UART_LCR_WLEN8);
        for (int count = 0; count < 256; count++) serialOut(UART_TX, count);
        int count;
        for (count = 0; (serialIn(UART_LSR) & UART_LSR_DR) != 0 && count < 256; count++) serialIn(UART_RX);
        serialOut(UART_FCR, oldFcr);
        serialOut(UART_MCR, oldMcr);
        serialOut(UART_LCR, UART_LCR_CONF_MODE_A);
        serialOut(UART_DLL, oldDl & 0xff);
        serialOut(UART_DLM, oldDl >> 8);
        serialOut(UART_LCR, oldLcr);
        return count;
    }

    void clearFifos() {
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO);
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
        serialOut(UART_FCR, 0);
    }

    // ---- opening: serial8250_do_startup() -----------------------------

    /** Returns false where the kernel returns -ENODEV. */
    boolean startup() {
        clearFifos();
        serialIn(UART_LSR);
        serialIn(UART_RX);
        serialIn(UART_IIR);
        serialIn(UART_MSR);
        if (serialIn(UART_LSR) == 0xff) return false; // "LSR safety check engaged"

        threTest();

        serialOut(UART_LCR, UART_LCR_WLEN8);
        mcr |= UART_MCR_OUT2; // "Most PC uarts need OUT2 raised to enable interrupts"
        serialOut(UART_MCR, mcr);

        // "Do a quick test to see if we receive an interrupt when we enable the TX irq"
        serialOut(UART_IER, UART_IER_THRI);
        int lsr = serialIn(UART_LSR);
        int iir = serialIn(UART_IIR);
        serialOut(UART_IER, 0);
        bugTxen = (lsr & UART_LSR_TEMT) != 0 && (iir & UART_IIR_NO_INT) != 0;

        // "Clear the interrupt registers again for luck"
        serialIn(UART_LSR);
        serialIn(UART_RX);
        serialIn(UART_IIR);
        serialIn(UART_MSR);

        ier = UART_IER_RLSI | UART_IER_RDI;
        serialOut(UART_IER, ier);
        return true;
    }

    /** serial8250_THRE_test(): does THRE come back when ETBEI is toggled off and on? */
    void threTest() {
        waitForXmitr(UART_LSR_THRE);
        serialOut(UART_IER, UART_IER_THRI);
        boolean noint1 = (serialIn(UART_IIR) & UART_IIR_NO_INT) != 0;
        serialOut(UART_IER, 0);
        serialOut(UART_IER, UART_IER_THRI);
        boolean noint2 = (serialIn(UART_IIR) & UART_IIR_NO_INT) != 0;
        serialOut(UART_IER, 0);
        bugThre = !noint1 && noint2;
    }

    /** wait_for_xmitr(): poll LSR until {@code bits}; gives up after 10000 polls as the kernel gives up after 10 ms. */
    boolean waitForXmitr(int bits) {
        for (int i = 0; i < 10_000; i++) if ((serialIn(UART_LSR) & bits) == bits) return true;
        return false;
    }

    // ---- serial8250_do_set_termios() for 8N1 ---------------------------

    void setTermios8n1(int quot) {
        int cval = UART_LCR_WLEN8;
        int fcr = UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10;
        ier &= ~UART_IER_MSI;
        serialOut(UART_IER, ier);
        serialOut(UART_LCR, cval | UART_LCR_DLAB);
        serialOut(UART_DLL, quot & 0xff);
        serialOut(UART_DLM, quot >> 8 & 0xff);
        serialOut(UART_LCR, cval);
        // "emulated UARTs (Lucent Venus 167x) need two steps"
        serialOut(UART_FCR, UART_FCR_ENABLE_FIFO);
        serialOut(UART_FCR, fcr);
        // uart_port_dtr_rts(): raise DTR and RTS
        mcr |= UART_MCR_DTR | UART_MCR_RTS;
        serialOut(UART_MCR, mcr);
    }

    // ---- the console: serial8250_console_write(), polled ---------------

    void consoleWrite(String s) {
        int savedIer = serialIn(UART_IER);
        serialOut(UART_IER, 0);
        for (char c : s.toCharArray()) {
            waitForXmitr(UART_LSR_THRE);
            serialOut(UART_TX, c);
        }
        waitForXmitr(UART_LSR_TEMT | UART_LSR_THRE);
        serialOut(UART_IER, savedIer);
    }

    // ---- interrupt-driven transmit and receive --------------------------

    /** uart_write() then serial8250_start_tx(): queue and enable THRI (which raises THRE at once). */
    void write(String s) {
        xmit = s.getBytes(StandardCharsets.ISO_8859_1);
        xmitTail = 0;
        if ((ier & UART_IER_THRI) == 0) {
            ier |= UART_IER_THRI;
            serialOut(UART_IER, ier);
        }
    }

    /**
     * The CPU takes the interrupt while the line is asserted:
     * serial8250_interrupt() calls handle_irq until the port has nothing
     * pending. Returns when the line is low; fails if it never settles.
     */
    void serviceInterrupts() {
        int passes = 0;
        while (irqLevel.getAsBoolean()) {
            if (++passes > 512) throw new AssertionError("interrupt line stuck high (PASS_LIMIT)");
            handleIrq();
        }
    }

    /** serial8250_default_handle_irq() and serial8250_handle_irq(). Returns whether the port had an interrupt. */
    boolean handleIrq() {
        int iir = serialIn(UART_IIR);
        if ((iir & UART_IIR_NO_INT) != 0) return false;
        interruptsHandled++;
        int status = serialIn(UART_LSR);
        if ((status & (UART_LSR_DR | UART_LSR_BI)) != 0) status = rxChars(status);
        serialIn(UART_MSR); // serial8250_modem_status()
        if ((status & UART_LSR_THRE) != 0 && (ier & UART_IER_THRI) != 0) txChars();
        return true;
    }

    private int rxChars(int lsr) {
        int maxCount = 256;
        do {
            if ((lsr & UART_LSR_DR) != 0) received.write(serialIn(UART_RX));
            lsr = serialIn(UART_LSR);
        } while ((lsr & (UART_LSR_DR | UART_LSR_BI)) != 0 && --maxCount > 0);
        return lsr;
    }

    private void txChars() {
        if (xmitTail == xmit.length) {
            stopTx();
            return;
        }
        int count = fifosize; // tx_loadsz
        do {
            serialOut(UART_TX, xmit[xmitTail++]);
            if (xmitTail == xmit.length) break;
        } while (--count > 0);
        if (xmitTail == xmit.length) stopTx();
    }

    private void stopTx() {
        if ((ier & UART_IER_THRI) != 0) {
            ier &= ~UART_IER_THRI;
            serialOut(UART_IER, ier);
        }
    }

    String receivedText() {
        return received.toString(StandardCharsets.ISO_8859_1);
    }

    boolean transmitDone() {
        return xmitTail == xmit.length;
    }
}
