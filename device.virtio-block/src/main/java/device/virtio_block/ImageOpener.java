package device.virtio_block;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Opens a disk image. The provider's only seam to the host file system,
 * so a test can hand the device a channel that fails.
 */
@FunctionalInterface
interface ImageOpener {
    /** The real thing: an existing file or block device, never created. */
    ImageOpener FILES = (path, readOnly) -> readOnly
            ? FileChannel.open(path, StandardOpenOption.READ)
            : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);

    /**
     * Opens {@code path} for reading, and for writing unless {@code readOnly}.
     * Called on the configuration thread.
     *
     * @throws IOException when the host refuses
     */
    FileChannel open(Path path, boolean readOnly) throws IOException;
}
