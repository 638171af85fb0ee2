package vmm.emu.internal.irq;

import java.util.Objects;

import vmm.core.bus.IoHandler;

/**
 * The bus side of a {@link PortDevice}: the range at {@code base} on the
 * I/O-port bus, each access taken under the chip's lock. A wider access is
 * split into byte accesses to consecutive ports, as the ISA bus splits a
 * 16-bit cycle to an 8-bit device. {@code afterWrite} runs after each write,
 * still under the lock (the timer scheduler looks at its deadlines again).
 */
final class PortIo implements IoHandler {
    private final Object lock;
    private final PortDevice device;
    private final int base;
    private final Runnable afterWrite;

    PortIo(Object lock, PortDevice device, int base, Runnable afterWrite) {
        this.lock = Objects.requireNonNull(lock, "lock");
        this.device = Objects.requireNonNull(device, "device");
        this.base = base;
        this.afterWrite = Objects.requireNonNull(afterWrite, "afterWrite");
    }

    @Override
    public long read(long offset, int size) {
        synchronized (lock) {
            long v = 0;
            for (int i = 0; i < size; i++) v |= (long) (device.read(base + (int) offset + i) & 0xff) << (8 * i);
            return v;
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        synchronized (lock) {
            for (int i = 0; i < size; i++) device.write(base + (int) offset + i, (int) (value >>> (8 * i)) & 0xff);
            afterWrite.run();
        }
    }
}
