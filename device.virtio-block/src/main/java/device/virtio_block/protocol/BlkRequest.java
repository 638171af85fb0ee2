package device.virtio_block.protocol;

import java.util.List;

/**
 * One request as the {@link RequestParser} understood it: either work for
 * the device, or an answer it must give without touching the disk. Byte
 * offsets and lengths are already checked against the {@link DiskGeometry}.
 * Data of a {@link Read} goes to the first {@code length} writable bytes of
 * the chain, data of a {@link Write} comes from the readable bytes after the
 * header; the status byte is always the chain's last writable byte.
 */
public sealed interface BlkRequest {
    /** Reads {@code length} bytes from disk offset {@code offset} into the guest. */
    record Read(long offset, long length) implements BlkRequest {}

    /** Writes {@code length} guest bytes to disk offset {@code offset}. */
    record Write(long offset, long length) implements BlkRequest {}

    /** Makes completed writes stable. */
    record Flush() implements BlkRequest {}

    /** Returns the device ID string in the first {@link VirtioBlk#VIRTIO_BLK_ID_BYTES} writable bytes. */
    record GetId() implements BlkRequest {}

    /** Deallocates each range (a hint: reads of it afterwards may return anything). */
    record Discard(List<Range> ranges) implements BlkRequest {
        public Discard {
            ranges = List.copyOf(ranges);
        }
    }

    /** Makes each range read back as zeroes, deallocating it where {@link Range#unmap()} allows. */
    record WriteZeroes(List<Range> ranges) implements BlkRequest {
        public WriteZeroes {
            ranges = List.copyOf(ranges);
        }
    }

    /** A request the device answers with {@code status} and does nothing else; {@code reason} is for logs. */
    record Refused(int status, String reason) implements BlkRequest {}

    /**
     * A chain with no device-writable byte for the status: the device cannot
     * answer, so the driver's error breaks the device (DEVICE_NEEDS_RESET).
     */
    record Unanswerable(String reason) implements BlkRequest {}

    /** A byte range of the disk named by a discard / write zeroes segment. */
    record Range(long offset, long length, boolean unmap) {}
}
