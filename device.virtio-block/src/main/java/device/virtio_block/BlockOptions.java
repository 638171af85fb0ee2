package device.virtio_block;

import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * A virtio-blk instance's configuration, in bhyve's terms: {@code path}
 * (required), {@code ro}, {@code sectorsize=logical[/physical]},
 * {@code serial}, {@code queues}, {@code queue-size}, {@code depth},
 * {@code discard}, {@code wce}. Pure parsing and range checks; whether the
 * image exists is the provider's business.
 *
 * @param path              the raw image file or block device
 * @param readOnly          the guest may not write (VIRTIO_BLK_F_RO)
 * @param logicalBlockSize  blk_size, a power of two in 512..65536
 * @param physicalBlockSize a power of two in logicalBlockSize..65536, announced through the topology
 * @param serial            the GET_ID string, ASCII, at most 20 bytes; empty when not configured
 * @param queues            request queues, 1..{@value #MAX_QUEUES}
 * @param queueSize         the largest size of each queue, a power of two in 2..32768
 * @param depth             most requests in flight per queue, 1..queueSize
 * @param discard           offer DISCARD and let WRITE_ZEROES unmap (ignored for a read-only disk)
 * @param writeCache        the cache mode after reset: writeback (true) or writethrough
 */
public record BlockOptions(Path path, boolean readOnly, int logicalBlockSize, int physicalBlockSize, String serial,
                           int queues, int queueSize, int depth, boolean discard, boolean writeCache) {
    public static final String PATH = "path", RO = "ro", SECTORSIZE = "sectorsize", SERIAL = "serial", QUEUES = "queues",
            QUEUE_SIZE = "queue-size", DEPTH = "depth", DISCARD = "discard", WCE = "wce";
    public static final int MAX_QUEUES = 64;
    public static final int DEFAULT_QUEUE_SIZE = 256, DEFAULT_DEPTH = 32;
    private static final int MAX_BLOCK_SIZE = 65536;

    /**
     * Parses an instance's configuration.
     *
     * @param instance names the device in messages
     * @throws IllegalArgumentException naming the key, its value and what is wrong with it
     */
    public static BlockOptions parse(String instance, Map<String, ?> config) {
        String prefix = "device " + instance + ": ";
        Object rawPath = config.get(PATH);
        if (rawPath == null || String.valueOf(rawPath).isBlank())
            throw new IllegalArgumentException(prefix + PATH + " is required (the image file or block device)");
        Path path;
        try {
            path = Path.of(String.valueOf(rawPath).trim());
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException(prefix + PATH + "=" + rawPath + " is not a path: " + e.getReason());
        }
        boolean ro = bool(prefix, config, RO, false);
        int[] sizes = sectorSizes(prefix, config.get(SECTORSIZE));
        String serial = config.get(SERIAL) == null ? "" : String.valueOf(config.get(SERIAL));
        byte[] ascii = serial.getBytes(StandardCharsets.US_ASCII);
        if (!StandardCharsets.US_ASCII.newEncoder().canEncode(serial) || serial.chars().anyMatch(c -> c < 0x20 || c > 0x7e))
            throw new IllegalArgumentException(prefix + SERIAL + "=" + serial + " must be printable ASCII");
        if (ascii.length > 20)
            throw new IllegalArgumentException(prefix + SERIAL + "=" + serial + " is " + ascii.length + " bytes, at most 20 fit the device ID");
        int queues = integer(prefix, config, QUEUES, 1, 1, MAX_QUEUES);
        int queueSize = integer(prefix, config, QUEUE_SIZE, DEFAULT_QUEUE_SIZE, 2, 32768);
        if (Integer.bitCount(queueSize) != 1)
            throw new IllegalArgumentException(prefix + QUEUE_SIZE + "=" + queueSize + " is not a power of two");
        int depth = integer(prefix, config, DEPTH, Math.min(DEFAULT_DEPTH, queueSize), 1, queueSize);
        boolean discard = bool(prefix, config, DISCARD, true);
        boolean wce = bool(prefix, config, WCE, true);
        return new BlockOptions(path, ro, sizes[0], sizes[1], serial, queues, queueSize, depth, discard && !ro, wce);
    }

    private static int[] sectorSizes(String prefix, Object raw) {
        if (raw == null) return new int[] {512, 512};
        String s = String.valueOf(raw).trim();
        String[] parts = s.split("/", -1);
        if (parts.length > 2) throw new IllegalArgumentException(prefix + SECTORSIZE + "=" + s + " is not logical[/physical]");
        int logical = blockSize(prefix, s, parts[0]);
        int physical = parts.length == 2 ? blockSize(prefix, s, parts[1]) : logical;
        if (physical < logical)
            throw new IllegalArgumentException(prefix + SECTORSIZE + "=" + s + ": the physical size is smaller than the logical size");
        return new int[] {logical, physical};
    }

    private static int blockSize(String prefix, String whole, String part) {
        int v;
        try {
            v = Integer.parseInt(part.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(prefix + SECTORSIZE + "=" + whole + " is not logical[/physical] in bytes");
        }
        if (v < 512 || v > MAX_BLOCK_SIZE || Integer.bitCount(v) != 1)
            throw new IllegalArgumentException(prefix + SECTORSIZE + "=" + whole + ": " + v + " is not a power of two in 512.." + MAX_BLOCK_SIZE);
        return v;
    }

    private static int integer(String prefix, Map<String, ?> config, String key, int fallback, int min, int max) {
        Object v = config.get(key);
        if (v == null) return fallback;
        long n;
        if (v instanceof Number num) {
            n = num.longValue();
        } else {
            try {
                n = Long.decode(String.valueOf(v).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(prefix + key + "=" + v + " is not a number");
            }
        }
        if (n < min || n > max) throw new IllegalArgumentException(prefix + key + "=" + v + " is outside " + min + ".." + max);
        return (int) n;
    }

    private static boolean bool(String prefix, Map<String, ?> config, String key, boolean fallback) {
        Object v = config.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        return switch (String.valueOf(v).trim().toLowerCase(Locale.ROOT)) {
            case "true", "on", "yes", "1", "" -> true;
            case "false", "off", "no", "0" -> false;
            default -> throw new IllegalArgumentException(prefix + key + "=" + v + " is not a boolean (true or false)");
        };
    }
}
