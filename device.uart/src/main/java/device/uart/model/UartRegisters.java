package device.uart.model;

/**
 * The 16550A register layout, after the National Semiconductor PC16550D
 * datasheet (table II, "Summary of Registers") and the names Linux's
 * {@code serial_reg.h} gives them, so a reader can hold the model against
 * either. Offsets are relative to the port's base; the divisor latches
 * replace RBR/THR and IER while {@link #UART_LCR_DLAB} is set.
 */
public final class UartRegisters {
    private UartRegisters() {}

    /** Ports one UART decodes. */
    public static final int PORT_COUNT = 8;
    /** Depth of each FIFO. */
    public static final int FIFO_SIZE = 16;

    // ---- offsets -------------------------------------------------------
    /** In: receiver buffer (DLAB=0). */
    public static final int UART_RX = 0;
    /** Out: transmitter holding register (DLAB=0). */
    public static final int UART_TX = 0;
    /** Divisor latch, low byte (DLAB=1). */
    public static final int UART_DLL = 0;
    /** Interrupt enable (DLAB=0). */
    public static final int UART_IER = 1;
    /** Divisor latch, high byte (DLAB=1). */
    public static final int UART_DLM = 1;
    /** In: interrupt identification. */
    public static final int UART_IIR = 2;
    /** Out: FIFO control. */
    public static final int UART_FCR = 2;
    /** Line control. */
    public static final int UART_LCR = 3;
    /** Modem control. */
    public static final int UART_MCR = 4;
    /** Line status. */
    public static final int UART_LSR = 5;
    /** Modem status. */
    public static final int UART_MSR = 6;
    /** Scratch. */
    public static final int UART_SCR = 7;

    // ---- IER -----------------------------------------------------------
    /** Enable received data available (and character timeout) interrupt. */
    public static final int UART_IER_RDI = 0x01;
    /** Enable transmitter holding register empty interrupt (ETBEI). */
    public static final int UART_IER_THRI = 0x02;
    /** Enable receiver line status interrupt. */
    public static final int UART_IER_RLSI = 0x04;
    /** Enable modem status interrupt. */
    public static final int UART_IER_MSI = 0x08;
    /** The bits a 16550A implements; bits 4-7 read as zero. */
    public static final int UART_IER_MASK = 0x0f;

    // ---- IIR -----------------------------------------------------------
    /** No interrupt pending. */
    public static final int UART_IIR_NO_INT = 0x01;
    /** Mask of the interrupt identification (bits 1-3, with bit 0). */
    public static final int UART_IIR_ID = 0x0f;
    /** Priority 4 (lowest): modem status. */
    public static final int UART_IIR_MSI = 0x00;
    /** Priority 3: transmitter holding register empty. */
    public static final int UART_IIR_THRI = 0x02;
    /** Priority 2: received data available (trigger level reached). */
    public static final int UART_IIR_RDI = 0x04;
    /** Priority 1 (highest): receiver line status. */
    public static final int UART_IIR_RLSI = 0x06;
    /** Priority 2: character timeout (FIFO mode only). */
    public static final int UART_IIR_RX_TIMEOUT = 0x0c;
    /** Bits 6-7: both set while the FIFOs are enabled; how Linux tells a 16550A. */
    public static final int UART_IIR_FIFO_ENABLED = 0xc0;

    // ---- FCR -----------------------------------------------------------
    public static final int UART_FCR_ENABLE_FIFO = 0x01;
    public static final int UART_FCR_CLEAR_RCVR = 0x02;
    public static final int UART_FCR_CLEAR_XMIT = 0x04;
    /** DMA mode select; kept but without effect (there is no DMA here). */
    public static final int UART_FCR_DMA_SELECT = 0x08;
    public static final int UART_FCR_TRIGGER_MASK = 0xc0;
    public static final int UART_FCR_TRIGGER_1 = 0x00;
    public static final int UART_FCR_TRIGGER_4 = 0x40;
    public static final int UART_FCR_TRIGGER_8 = 0x80;
    public static final int UART_FCR_TRIGGER_14 = 0xc0;

    // ---- LCR -----------------------------------------------------------
    /** Divisor latch access bit. */
    public static final int UART_LCR_DLAB = 0x80;
    /** Set break: the transmitter holds the line in spacing state. */
    public static final int UART_LCR_SBC = 0x40;
    public static final int UART_LCR_SPAR = 0x20;
    public static final int UART_LCR_EPAR = 0x10;
    public static final int UART_LCR_PARITY = 0x08;
    public static final int UART_LCR_STOP = 0x04;
    public static final int UART_LCR_WLEN8 = 0x03;

    // ---- MCR -----------------------------------------------------------
    public static final int UART_MCR_DTR = 0x01;
    public static final int UART_MCR_RTS = 0x02;
    public static final int UART_MCR_OUT1 = 0x04;
    public static final int UART_MCR_OUT2 = 0x08;
    /** Diagnostic loopback. */
    public static final int UART_MCR_LOOP = 0x10;
    /** The bits a 16550A implements; bits 5-7 read as zero. */
    public static final int UART_MCR_MASK = 0x1f;

    // ---- LSR -----------------------------------------------------------
    /** Data ready. */
    public static final int UART_LSR_DR = 0x01;
    /** Overrun error. */
    public static final int UART_LSR_OE = 0x02;
    /** Parity error. */
    public static final int UART_LSR_PE = 0x04;
    /** Framing error. */
    public static final int UART_LSR_FE = 0x08;
    /** Break interrupt. */
    public static final int UART_LSR_BI = 0x10;
    /** Transmitter holding register (FIFO) empty. */
    public static final int UART_LSR_THRE = 0x20;
    /** Transmitter empty. */
    public static final int UART_LSR_TEMT = 0x40;
    /** Error in the receiver FIFO (FIFO mode). */
    public static final int UART_LSR_FIFOE = 0x80;
    /** The error bits that raise a receiver line status interrupt; cleared by reading LSR. */
    public static final int UART_LSR_BRK_ERROR_BITS = UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI;

    // ---- MSR -----------------------------------------------------------
    /** Delta clear to send. */
    public static final int UART_MSR_DCTS = 0x01;
    /** Delta data set ready. */
    public static final int UART_MSR_DDSR = 0x02;
    /** Trailing edge ring indicator (RI went inactive). */
    public static final int UART_MSR_TERI = 0x04;
    /** Delta data carrier detect. */
    public static final int UART_MSR_DDCD = 0x08;
    public static final int UART_MSR_ANY_DELTA = 0x0f;
    public static final int UART_MSR_CTS = 0x10;
    public static final int UART_MSR_DSR = 0x20;
    public static final int UART_MSR_RI = 0x40;
    public static final int UART_MSR_DCD = 0x80;
    public static final int UART_MSR_STATUS_BITS = 0xf0;

    /** RX trigger level in characters for FCR bits 6-7. */
    public static int triggerLevel(int fcr) {
        return switch (fcr & UART_FCR_TRIGGER_MASK) {
            case UART_FCR_TRIGGER_1 -> 1;
            case UART_FCR_TRIGGER_4 -> 4;
            case UART_FCR_TRIGGER_8 -> 8;
            default -> 14;
        };
    }
}
