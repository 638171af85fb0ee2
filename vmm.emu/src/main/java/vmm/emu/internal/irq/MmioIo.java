package vmm.emu.internal.irq;

import java.util.Objects;

import vmm.core.bus.IoHandler;

/**
 * The bus side of a register-page model (the IOAPIC, a local APIC): each
 * access taken under the chip's lock; {@code afterWrite} runs after each
 * write, still under the lock.
 */
final class MmioIo implements IoHandler {
    private final Object lock;
    private final IoHandler model;
    private final Runnable afterWrite;

    MmioIo(Object lock, IoHandler model, Runnable afterWrite) {
        this.lock = Objects.requireNonNull(lock, "lock");
        this.model = Objects.requireNonNull(model, "model");
        this.afterWrite = Objects.requireNonNull(afterWrite, "afterWrite");
    }

    @Override
    public long read(long offset, int size) {
        synchronized (lock) {
            return model.read(offset, size);
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        synchronized (lock) {
            model.write(offset, size, value);
            afterWrite.run();
        }
    }
}
