package device.virtio_block;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import device.virtio_block.io.BlockImage;
import device.virtio_block.io.NativeFile;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;

/**
 * Offers virtio-blk to the core. A device instance is a {@code vmm.device}
 * factory configuration with {@code type=virtio-blk} and the keys of
 * {@link BlockOptions}; {@code path} is required. The image is opened here,
 * so a missing or unusable one is refused before the guest sees a device.
 */
@Component(property = {DeviceProvider.TYPE + "=virtio-blk", DeviceProvider.IMPLEMENTATION + "=virtio-blk"})
public final class VirtioBlockProvider implements DeviceProvider {
    private final ImageOpener opener;

    /** The DS constructor: images are opened from the host file system. */
    public VirtioBlockProvider() {
        this(ImageOpener.FILES);
    }

    VirtioBlockProvider(ImageOpener opener) {
        this.opener = opener;
    }

    /**
     * Opens the image and makes a model for it. Called on the core's
     * configuration thread.
     *
     * @throws IllegalArgumentException naming the key when the configuration is bad, or the image is
     *                                  missing, unreadable, not writable (unless {@code ro}) or smaller than one block
     */
    @Override
    public DeviceModel create(DeviceContext context) {
        String id = context.instanceId();
        BlockOptions o = BlockOptions.parse(id, context.configuration());
        Path p = o.path();
        String key = "device " + id + ": " + BlockOptions.PATH + "=" + p;
        if (!Files.exists(p)) throw new IllegalArgumentException(key + ": no such file or block device");
        if (Files.isDirectory(p)) throw new IllegalArgumentException(key + " is a directory, not an image");
        FileChannel channel;
        try {
            channel = opener.open(p, o.readOnly());
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException(key + ": cannot open " + (o.readOnly() ? "for reading" : "for reading and writing")
                    + " (" + e + ")" + (o.readOnly() ? "" : "; set ro=true for a read-only disk"), e);
        }
        NativeFile nativeFile = null;
        try {
            long size = channel.size();
            if (size == 0 && !Files.isRegularFile(p)) {
                // A block device: fstat reports no size, the end of the device does.
                try (NativeFile f = NativeFile.open(p, true).orElse(null)) {
                    if (f != null) size = f.sizeBySeek();
                }
            }
            long capacity = size - size % o.logicalBlockSize();
            if (capacity <= 0)
                throw new IllegalArgumentException(key + ": the image has " + size + " bytes, not one whole "
                        + o.logicalBlockSize() + "-byte block");
            if (!o.readOnly()) nativeFile = NativeFile.open(p, false).orElse(null);
            return new VirtioBlock(id, o, new BlockImage(channel, nativeFile, size), capacity, context::requestFailed);
        } catch (IOException e) {
            closeQuietly(channel, nativeFile);
            throw new IllegalArgumentException(key + ": cannot use the image (" + e + ")", e);
        } catch (RuntimeException e) {
            closeQuietly(channel, nativeFile);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel channel, NativeFile nativeFile) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the open failed already; that is the error worth reporting
        }
        if (nativeFile != null) nativeFile.close();
    }
}
