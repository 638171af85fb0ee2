package device.virtio_block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real image file behind the device's seam to the host (its
 * {@link FileChannel}) that fails as a sick disk does, at random from a
 * seed: a positional read fails with EIO; a write fails with EIO or ENOSPC,
 * or is short (part of the buffer written, as pwrite may), after which the
 * next write may fail too; a flush (fdatasync) fails with EIO. It counts
 * what it injected, so a test knows which requests met a failure.
 */
final class FaultingChannel extends FileChannel {
    enum Fault { READ_EIO, WRITE_EIO, WRITE_ENOSPC, SHORT_WRITE, FLUSH_EIO }

    private final FileChannel file;
    private final Random random;
    private final double rate;
    private final AtomicInteger[] injected = new AtomicInteger[Fault.values().length];
    /** Failures the guest must see as an error: every fault but a short write (which the device must finish). */
    private final AtomicInteger failures = new AtomicInteger();

    FaultingChannel(FileChannel file, long seed, double rate) {
        this.file = file;
        this.random = new Random(seed);
        this.rate = rate;
        for (int i = 0; i < injected.length; i++) injected[i] = new AtomicInteger();
    }

    int injected(Fault f) {
        return injected[f.ordinal()].get();
    }

    int totalInjected() {
        int n = 0;
        for (AtomicInteger i : injected) n += i.get();
        return n;
    }

    /** Injected faults that must have failed the request they hit. */
    int failures() {
        return failures.get();
    }

    private synchronized boolean roll() {
        return random.nextDouble() < rate;
    }

    private synchronized int pick(int bound) {
        return random.nextInt(bound);
    }

    private IOException fail(Fault f, String message) {
        injected[f.ordinal()].incrementAndGet();
        failures.incrementAndGet();
        return new IOException(message + " (injected)");
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        if (roll()) throw fail(Fault.READ_EIO, "Input/output error");
        return file.read(dst, position);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (roll()) {
            switch (pick(3)) {
                case 0 -> throw fail(Fault.WRITE_EIO, "Input/output error");
                case 1 -> throw fail(Fault.WRITE_ENOSPC, "No space left on device");
                default -> {
                    if (src.remaining() > 1) {
                        injected[Fault.SHORT_WRITE.ordinal()].incrementAndGet();
                        ByteBuffer part = src.duplicate();
                        part.limit(part.position() + 1 + pick(src.remaining() - 1));
                        int n = file.write(part, position);
                        src.position(src.position() + n);
                        return n;
                    }
                }
            }
        }
        return file.write(src, position);
    }

    @Override
    public void force(boolean metaData) throws IOException {
        if (roll()) throw fail(Fault.FLUSH_EIO, "Input/output error");
        file.force(metaData);
    }

    @Override public long size() throws IOException { return file.size(); }
    @Override public int read(ByteBuffer dst) throws IOException { return file.read(dst); }
    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        return file.read(dsts, offset, length);
    }
    @Override public int write(ByteBuffer src) throws IOException { return file.write(src); }
    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return file.write(srcs, offset, length);
    }
    @Override public long position() throws IOException { return file.position(); }
    @Override
    public FileChannel position(long newPosition) throws IOException {
        file.position(newPosition);
        return this;
    }
    @Override public FileChannel truncate(long size) throws IOException { file.truncate(size); return this; }
    @Override public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        return file.transferTo(position, count, target);
    }
    @Override public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
        return file.transferFrom(src, position, count);
    }
    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
        return file.map(mode, position, size);
    }
    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        return file.lock(position, size, shared);
    }
    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        return file.tryLock(position, size, shared);
    }
    @Override protected void implCloseChannel() throws IOException { file.close(); }
}
