package vmm.core.snapshot;

import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.util.Arrays;

/** A seekable channel over a growing byte array, recording the largest single write it was given. */
final class MemoryChannel implements SeekableByteChannel {
    private byte[] data;
    private int size;
    private int position;
    private int largestWrite;

    MemoryChannel() {
        this(new byte[0]);
    }

    MemoryChannel(byte[] contents) {
        data = contents.clone();
        size = contents.length;
    }

    byte[] bytes() {
        return Arrays.copyOf(data, size);
    }

    int largestWrite() {
        return largestWrite;
    }

    @Override
    public int read(ByteBuffer dst) {
        if (position >= size) return -1;
        int n = Math.min(dst.remaining(), size - position);
        dst.put(data, position, n);
        position += n;
        return n;
    }

    @Override
    public int write(ByteBuffer src) {
        int n = src.remaining();
        largestWrite = Math.max(largestWrite, n);
        if (position + n > data.length) data = Arrays.copyOf(data, Math.max(position + n, data.length * 2));
        src.get(data, position, n);
        position += n;
        size = Math.max(size, position);
        return n;
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public SeekableByteChannel position(long newPosition) {
        position = (int) Math.min(newPosition, Integer.MAX_VALUE);
        return this;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public SeekableByteChannel truncate(long newSize) {
        size = (int) Math.min(size, newSize);
        return this;
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
    }
}
