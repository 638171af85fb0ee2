package vmm.core.internal.chipset;

import java.util.function.IntConsumer;

import vmm.core.pci.CapabilityHandler;
import vmm.core.device.IncompatibleStateException;

/**
 * A chipset function's device-specific configuration registers: plain
 * storage, with a write mask per byte and a callback after each write (with
 * the window offset written) for the registers that have effects.
 * Thread-safe.
 */
final class ConfigRegisters implements CapabilityHandler {
    private final byte[] values, writable;
    private final IntConsumer afterWrite;

    ConfigRegisters(int length, IntConsumer afterWrite) {
        this.values = new byte[length];
        this.writable = new byte[length];
        java.util.Arrays.fill(writable, (byte) 0xff);
        this.afterWrite = afterWrite;
    }

    synchronized ConfigRegisters set(int offset, int size, int value) {
        for (int i = 0; i < size; i++) values[offset + i] = (byte) (value >>> (8 * i));
        return this;
    }

    synchronized ConfigRegisters readOnly(int offset, int size, int mask) {
        for (int i = 0; i < size; i++) writable[offset + i] = (byte) ~(mask >>> (8 * i));
        return this;
    }

    /** Every register to 0 (write masks stay). */
    synchronized void clear() {
        java.util.Arrays.fill(values, (byte) 0);
    }

    synchronized int get(int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) v |= (values[offset + i] & 0xff) << (8 * i);
        return v;
    }

    @Override
    public int read(int offset, int size, int stored) {
        return get(offset, size);
    }

    @Override
    public int write(int offset, int size, int value, int stored) {
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                int m = writable[offset + i];
                values[offset + i] = (byte) (values[offset + i] & ~m | (value >>> (8 * i)) & m);
            }
        }
        for (int i = 0; i < size; i++) afterWrite.accept(offset + i);
        return get(offset, size);
    }

    synchronized byte[] save() {
        return values.clone();
    }

    /** Puts back {@link #save()}'s bytes: the writable bits from them, read-only bits as they are. */
    synchronized void restore(byte[] saved, String what) {
        if (saved.length != values.length)
            throw new IncompatibleStateException(what + ": " + values.length + " register bytes, not " + saved.length);
        for (int i = 0; i < values.length; i++)
            values[i] = (byte) (values[i] & ~writable[i] | saved[i] & writable[i]);
    }
}
