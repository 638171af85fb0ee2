package vmm.emu.internal.irq;

/** A model with 8-bit I/O ports, addressed by absolute port number. Not thread-safe. */
interface PortDevice {
    /** Reads the byte at {@code port}. */
    int read(int port);

    /** Writes the low byte of {@code value} to {@code port}. */
    void write(int port, int value);
}
