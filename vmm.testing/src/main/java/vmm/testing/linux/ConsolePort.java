package vmm.testing.linux;

import vmm.core.bus.IoHandler;

/**
 * COM1 as far as Linux's console needs it: a 16550A that transmits at once (the line status always says
 * empty) and never interrupts, keeping every byte written. Linux's serial console polls the line status,
 * so the kernel's messages (and the script's, which {@link LinuxGuest} sends through {@code /dev/kmsg})
 * come out at full speed; a tty's own output would wait for the 8250 driver's backup timer. The scratch,
 * interrupt-enable, line and modem control registers and the divisor keep what is written, and loopback
 * reflects the modem control outputs, so the driver's probes find a 16550A. Thread-safe.
 */
final class ConsolePort implements IoHandler {
    static final int BASE = 0x3F8, PORTS = 8;
    private static final int THR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
    private static final int LCR_DLAB = 0x80, MCR_LOOP = 0x10;
    private static final int IIR_NO_INTERRUPT_FIFOS = 0xC1, LSR_TRANSMITTER_EMPTY = 0x60, MSR_DCD_DSR_CTS = 0xB0;

    private final StringBuffer text = new StringBuffer();
    private int ier, lcr, mcr, scratch, dll, dlm;

    @Override
    public synchronized long read(long offset, int size) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch ((int) offset) {
            case THR -> dlab ? dll : 0;
            case IER -> dlab ? dlm : ier;
            case IIR -> IIR_NO_INTERRUPT_FIFOS;
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> LSR_TRANSMITTER_EMPTY;
            case MSR -> (mcr & MCR_LOOP) != 0 ? loopbackStatus() : MSR_DCD_DSR_CTS;
            case SCR -> scratch;
            default -> 0xFF;
        };
    }

    /** In loopback the modem inputs are the control outputs: DTR to DSR, RTS to CTS, OUT1 to RI, OUT2 to DCD. */
    private int loopbackStatus() {
        return (mcr & 1) << 5 | (mcr & 2) << 3 | (mcr & 4) << 4 | (mcr & 8) << 4;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xFF;
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch ((int) offset) {
            case THR -> {
                if (dlab) dll = v;
                else if ((mcr & MCR_LOOP) == 0) text.append((char) v);
            }
            case IER -> {
                if (dlab) dlm = v;
                else ier = v & 0x0F;
            }
            case LCR -> lcr = v;
            case MCR -> mcr = v & 0x1F;
            case SCR -> scratch = v;
            default -> { }
        }
    }

    /** Everything transmitted so far (ISO-8859-1). */
    String text() {
        return text.toString();
    }

    boolean contains(String s) {
        return text.indexOf(s) >= 0;
    }
}
