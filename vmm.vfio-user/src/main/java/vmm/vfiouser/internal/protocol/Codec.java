package vmm.vfiouser.internal.protocol;

import static vmm.vfiouser.VfioUser.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import vmm.vfiouser.DeviceInfo;
import vmm.vfiouser.IrqInfo;
import vmm.vfiouser.RegionInfo;

/**
 * Every vfio-user payload this implementation sends or accepts, encoded and
 * decoded as pure functions. Decoders check every length, count and field a
 * peer controls against the specification and the given limits and throw
 * {@link ProtocolException} (an error reply, EINVAL unless said otherwise)
 * naming what is wrong; they never allocate more than the message holds.
 */
public final class Codec {
    private Codec() {}

    /** The capabilities of the VERSION message that this implementation acts on. */
    public record Capabilities(int maxMsgFds, int maxDataXferSize, long pgsizes, int maxDmaMaps) {
        /** What a peer that names no capability has (the specification's defaults). */
        public static Capabilities defaults() {
            return new Capabilities(DEFAULT_MAX_MSG_FDS, DEFAULT_MAX_DATA_XFER_SIZE, 4096, 65535);
        }
    }

    public record Version(int major, int minor, Capabilities capabilities) {}

    public record DmaMap(int flags, long offset, long address, long size) {
        public boolean readable() { return (flags & VFIO_USER_F_DMA_REGION_READ) != 0; }
        public boolean writable() { return (flags & VFIO_USER_F_DMA_REGION_WRITE) != 0; }
    }

    public record DmaUnmap(int flags, long address, long size) {}

    public record RegionAccess(long offset, int region, int count) {}

    /** A SET_IRQS request; {@code bools} holds {@code count} bytes for DATA_BOOL, else is empty. */
    public record IrqSet(int flags, int index, int start, int count, byte[] bools) {
        public int dataType() { return flags & VFIO_IRQ_SET_DATA_TYPE_MASK; }
        public int action() { return flags & VFIO_IRQ_SET_ACTION_TYPE_MASK; }
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void requireSize(String what, byte[] p, int size) throws ProtocolException {
        if (p.length != size) throw ProtocolException.invalid(what + ": payload of " + p.length + " bytes, expected " + size);
    }

    private static void requireArgsz(String what, int argsz, int min) throws ProtocolException {
        if (Integer.toUnsignedLong(argsz) < min) throw ProtocolException.invalid(what + ": argsz " + Integer.toUnsignedString(argsz) + " is below " + min);
    }

    // --- VERSION ---------------------------------------------------------------------

    /** major, minor, then the capabilities as JSON with its terminating NUL. */
    public static byte[] encodeVersion(int major, int minor, Capabilities c) {
        Map<String, Object> caps = new LinkedHashMap<>();
        caps.put("max_msg_fds", c.maxMsgFds());
        caps.put("max_data_xfer_size", c.maxDataXferSize());
        caps.put("pgsizes", c.pgsizes());
        caps.put("max_dma_maps", c.maxDmaMaps());
        byte[] json = Json.write(Map.of("capabilities", caps)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(4 + json.length + 1);
        b.putShort((short) major).putShort((short) minor).put(json).put((byte) 0);
        return b.array();
    }

    /**
     * Decodes a VERSION payload. The version data is optional; when present
     * it is NUL-terminated JSON whose {@code capabilities} members, if
     * present, must be positive numbers. Unknown members are ignored; a
     * value larger than this side can use is kept as is (callers clamp).
     */
    public static Version decodeVersion(byte[] p) throws ProtocolException {
        if (p.length < 4) throw ProtocolException.invalid("VERSION: payload of " + p.length + " bytes, at least 4 expected");
        ByteBuffer b = le(p);
        int major = Short.toUnsignedInt(b.getShort()), minor = Short.toUnsignedInt(b.getShort());
        Capabilities d = Capabilities.defaults();
        if (p.length == 4) return new Version(major, minor, d);
        int end = 4;
        while (end < p.length && p[end] != 0) end++;
        if (end != p.length - 1) throw ProtocolException.invalid("VERSION: version data is not one NUL-terminated string");
        Object root = Json.parse(new String(p, 4, end - 4, StandardCharsets.UTF_8));
        if (!(root instanceof Map<?, ?> top)) throw ProtocolException.invalid("VERSION: version data is not a JSON object");
        Object caps = top.get("capabilities");
        if (caps == null) return new Version(major, minor, d);
        if (!(caps instanceof Map<?, ?> c)) throw ProtocolException.invalid("VERSION: capabilities is not an object");
        return new Version(major, minor, new Capabilities(
                (int) positive(c, "max_msg_fds", d.maxMsgFds(), Integer.MAX_VALUE),
                (int) positive(c, "max_data_xfer_size", d.maxDataXferSize(), Integer.MAX_VALUE),
                positive(c, "pgsizes", d.pgsizes(), Long.MAX_VALUE),
                (int) positive(c, "max_dma_maps", d.maxDmaMaps(), Integer.MAX_VALUE)));
    }

    private static long positive(Map<?, ?> m, String key, long fallback, long max) throws ProtocolException {
        Object v = m.get(key);
        if (v == null) return fallback;
        if (!(v instanceof Long n) || n < 1)
            throw ProtocolException.invalid("VERSION: capability " + key + " must be a positive integer, was " + v);
        return Math.min(n, max);
    }

    // --- DMA_MAP / DMA_UNMAP ------------------------------------------------------------

    public static byte[] encodeDmaMap(DmaMap m) {
        return le(DMA_MAP_SIZE).putInt(DMA_MAP_SIZE).putInt(m.flags()).putLong(m.offset()).putLong(m.address()).putLong(m.size()).array();
    }

    /** A DMA_MAP request: 32 bytes, only the READ and WRITE flags, a positive size that does not wrap. */
    public static DmaMap decodeDmaMap(byte[] p) throws ProtocolException {
        requireSize("DMA_MAP", p, DMA_MAP_SIZE);
        ByteBuffer b = le(p);
        requireArgsz("DMA_MAP", b.getInt(), DMA_MAP_SIZE);
        DmaMap m = new DmaMap(b.getInt(), b.getLong(), b.getLong(), b.getLong());
        if ((m.flags() & ~(VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)) != 0)
            throw ProtocolException.invalid(String.format("DMA_MAP: unknown flags 0x%x", m.flags()));
        if (!m.readable()) throw ProtocolException.invalid("DMA_MAP: a region the device cannot even read is of no use");
        checkRange("DMA_MAP", m.address(), m.size());
        if (m.offset() < 0 || Long.MAX_VALUE - m.offset() < m.size())
            throw ProtocolException.invalid(String.format("DMA_MAP: file offset 0x%x with size 0x%x is out of range", m.offset(), m.size()));
        return m;
    }

    public static byte[] encodeDmaUnmap(DmaUnmap u) {
        return le(DMA_UNMAP_SIZE).putInt(DMA_UNMAP_SIZE).putInt(u.flags()).putLong(u.address()).putLong(u.size()).array();
    }

    /** A DMA_UNMAP request: 24 bytes, no flags (dirty bitmaps are not supported), a positive size that does not wrap. */
    public static DmaUnmap decodeDmaUnmap(byte[] p) throws ProtocolException {
        requireSize("DMA_UNMAP", p, DMA_UNMAP_SIZE);
        ByteBuffer b = le(p);
        requireArgsz("DMA_UNMAP", b.getInt(), DMA_UNMAP_SIZE);
        DmaUnmap u = new DmaUnmap(b.getInt(), b.getLong(), b.getLong());
        if (u.flags() != 0) throw ProtocolException.invalid(String.format("DMA_UNMAP: flags 0x%x are not supported", u.flags()));
        checkRange("DMA_UNMAP", u.address(), u.size());
        return u;
    }

    private static void checkRange(String what, long address, long size) throws ProtocolException {
        if (size <= 0 || address < 0 || Long.MAX_VALUE - address < size)
            throw ProtocolException.invalid(String.format("%s: address 0x%x size 0x%x is out of range", what, address, size));
    }

    // --- DEVICE_GET_INFO ------------------------------------------------------------------

    public static byte[] encodeDeviceInfoRequest() {
        return le(DEVICE_INFO_SIZE).putInt(DEVICE_INFO_SIZE).array();
    }

    /** Checks a DEVICE_GET_INFO request: 16 bytes with argsz of at least 16. */
    public static void decodeDeviceInfoRequest(byte[] p) throws ProtocolException {
        requireSize("DEVICE_GET_INFO", p, DEVICE_INFO_SIZE);
        requireArgsz("DEVICE_GET_INFO", le(p).getInt(), DEVICE_INFO_SIZE);
    }

    public static byte[] encodeDeviceInfo(DeviceInfo i) {
        return le(DEVICE_INFO_SIZE).putInt(DEVICE_INFO_SIZE).putInt(i.flags()).putInt(i.numRegions()).putInt(i.numIrqs()).array();
    }

    /** A DEVICE_GET_INFO reply: at least 16 bytes, a PCI device with the 9 PCI regions and at most 5+ IRQ types. */
    public static DeviceInfo decodeDeviceInfo(byte[] p) throws ProtocolException {
        if (p.length < DEVICE_INFO_SIZE) throw ProtocolException.invalid("DEVICE_GET_INFO reply: " + p.length + " bytes, at least 16 expected");
        ByteBuffer b = le(p);
        b.getInt();
        DeviceInfo i = new DeviceInfo(b.getInt(), b.getInt(), b.getInt());
        if (i.numRegions() < 0 || i.numRegions() > 64 || i.numIrqs() < 0 || i.numIrqs() > 64)
            throw ProtocolException.invalid("DEVICE_GET_INFO reply: " + Integer.toUnsignedString(i.numRegions()) + " regions, "
                    + Integer.toUnsignedString(i.numIrqs()) + " IRQ types: out of range");
        return i;
    }

    // --- DEVICE_GET_REGION_INFO -------------------------------------------------------------

    public static byte[] encodeRegionInfoRequest(int index) {
        return le(REGION_INFO_SIZE).putInt(REGION_INFO_SIZE).putInt(0).putInt(index).array();
    }

    /** A DEVICE_GET_REGION_INFO request: 32 bytes, argsz of at least 32; returns the index (range checked by the caller). */
    public static int decodeRegionInfoRequest(byte[] p) throws ProtocolException {
        requireSize("DEVICE_GET_REGION_INFO", p, REGION_INFO_SIZE);
        ByteBuffer b = le(p);
        requireArgsz("DEVICE_GET_REGION_INFO", b.getInt(), REGION_INFO_SIZE);
        b.getInt();
        return b.getInt();
    }

    public static byte[] encodeRegionInfo(RegionInfo r) {
        return le(REGION_INFO_SIZE).putInt(REGION_INFO_SIZE).putInt(r.flags()).putInt(r.index()).putInt(0)
                .putLong(r.size()).putLong(r.offset()).array();
    }

    /**
     * A DEVICE_GET_REGION_INFO reply for {@code index}: at least 32 bytes,
     * the same index, a size that is not negative; {@code fd} is the
     * descriptor that came with it, or -1 (capabilities, if any, are ignored).
     */
    public static RegionInfo decodeRegionInfo(byte[] p, int index, int fd) throws ProtocolException {
        if (p.length < REGION_INFO_SIZE) throw ProtocolException.invalid("DEVICE_GET_REGION_INFO reply: " + p.length + " bytes, at least 32 expected");
        ByteBuffer b = le(p);
        b.getInt();
        int flags = b.getInt(), idx = b.getInt();
        b.getInt();
        long size = b.getLong(), offset = b.getLong();
        if (idx != index) throw ProtocolException.invalid("DEVICE_GET_REGION_INFO reply: region " + idx + " for a request about " + index);
        if (size < 0 || offset < 0) throw ProtocolException.invalid(String.format("DEVICE_GET_REGION_INFO reply: size 0x%x offset 0x%x out of range", size, offset));
        return new RegionInfo(idx, flags, size, offset, (flags & VFIO_REGION_INFO_FLAG_MMAP) != 0 ? fd : -1);
    }

    // --- DEVICE_GET_IRQ_INFO ------------------------------------------------------------------

    public static byte[] encodeIrqInfoRequest(int index) {
        return le(IRQ_INFO_SIZE).putInt(IRQ_INFO_SIZE).putInt(0).putInt(index).array();
    }

    /** A DEVICE_GET_IRQ_INFO request: 16 bytes, argsz of at least 16; returns the index. */
    public static int decodeIrqInfoRequest(byte[] p) throws ProtocolException {
        requireSize("DEVICE_GET_IRQ_INFO", p, IRQ_INFO_SIZE);
        ByteBuffer b = le(p);
        requireArgsz("DEVICE_GET_IRQ_INFO", b.getInt(), IRQ_INFO_SIZE);
        b.getInt();
        return b.getInt();
    }

    public static byte[] encodeIrqInfo(IrqInfo i) {
        return le(IRQ_INFO_SIZE).putInt(IRQ_INFO_SIZE).putInt(i.flags()).putInt(i.index()).putInt(i.count()).array();
    }

    /** A DEVICE_GET_IRQ_INFO reply for {@code index}: at least 16 bytes, the same index, a count of 0..2048. */
    public static IrqInfo decodeIrqInfo(byte[] p, int index) throws ProtocolException {
        if (p.length < IRQ_INFO_SIZE) throw ProtocolException.invalid("DEVICE_GET_IRQ_INFO reply: " + p.length + " bytes, at least 16 expected");
        ByteBuffer b = le(p);
        b.getInt();
        int flags = b.getInt(), idx = b.getInt(), count = b.getInt();
        IrqInfo i = new IrqInfo(idx, flags, count);
        if (i.index() != index) throw ProtocolException.invalid("DEVICE_GET_IRQ_INFO reply: IRQ type " + i.index() + " for a request about " + index);
        if (i.count() < 0 || i.count() > 2048) throw ProtocolException.invalid("DEVICE_GET_IRQ_INFO reply: count " + Integer.toUnsignedString(i.count()) + " out of range");
        return i;
    }

    // --- DEVICE_SET_IRQS ------------------------------------------------------------------------

    public static byte[] encodeIrqSet(int flags, int index, int start, int count, byte[] bools) {
        ByteBuffer b = le(IRQ_SET_SIZE + bools.length);
        b.putInt(IRQ_SET_SIZE + bools.length).putInt(flags).putInt(index).putInt(start).putInt(count).put(bools);
        return b.array();
    }

    /**
     * A DEVICE_SET_IRQS request with {@code fds} descriptors: argsz equal to
     * the payload, exactly one DATA_ and one ACTION_ flag, a bool per vector
     * for DATA_BOOL, for DATA_EVENTFD one descriptor per vector or none (to
     * de-assign), no descriptors otherwise, and {@code start + count} that
     * does not wrap. Index and range against the device are the caller's.
     */
    public static IrqSet decodeIrqSet(byte[] p, int fds) throws ProtocolException {
        if (p.length < IRQ_SET_SIZE) throw ProtocolException.invalid("DEVICE_SET_IRQS: payload of " + p.length + " bytes, at least 20 expected");
        ByteBuffer b = le(p);
        int argsz = b.getInt(), flags = b.getInt(), index = b.getInt(), start = b.getInt(), count = b.getInt();
        if (argsz != p.length) throw ProtocolException.invalid("DEVICE_SET_IRQS: argsz " + Integer.toUnsignedString(argsz) + " differs from the payload size " + p.length);
        int data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK, action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
        if ((flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) != 0 || Integer.bitCount(data) != 1 || Integer.bitCount(action) != 1)
            throw ProtocolException.invalid(String.format("DEVICE_SET_IRQS: flags 0x%x need exactly one DATA_ and one ACTION_ bit", flags));
        if (start < 0 || count < 0 || (long) start + count > Integer.MAX_VALUE)
            throw ProtocolException.invalid("DEVICE_SET_IRQS: start " + Integer.toUnsignedString(start) + " count " + Integer.toUnsignedString(count) + " out of range");
        byte[] bools = new byte[0];
        switch (data) {
            case VFIO_IRQ_SET_DATA_BOOL -> {
                if (p.length != IRQ_SET_SIZE + (long) count) throw ProtocolException.invalid("DEVICE_SET_IRQS: " + count + " bools need " + (IRQ_SET_SIZE + (long) count) + " bytes, the payload has " + p.length);
                bools = new byte[count];
                b.get(bools);
            }
            case VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_EVENTFD -> {
                if (p.length != IRQ_SET_SIZE) throw ProtocolException.invalid("DEVICE_SET_IRQS: " + (p.length - IRQ_SET_SIZE) + " bytes of data without DATA_BOOL");
            }
            default -> throw new AssertionError();
        }
        if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
            if (fds != 0 && fds != count) throw ProtocolException.invalid("DEVICE_SET_IRQS: " + fds + " eventfds for " + count + " vectors");
        } else if (fds != 0) {
            throw ProtocolException.invalid("DEVICE_SET_IRQS: " + fds + " descriptors without DATA_EVENTFD");
        }
        return new IrqSet(flags, index, start, count, bools);
    }

    // --- REGION_READ / REGION_WRITE -----------------------------------------------------------------

    public static byte[] encodeRegionAccess(long offset, int region, int count, byte[] data) {
        return le(REGION_ACCESS_SIZE + data.length).putLong(offset).putInt(region).putInt(count).put(data).array();
    }

    /** A REGION_READ request: 16 bytes, a count of 1..{@code maxCount}, an offset that is not negative. */
    public static RegionAccess decodeRegionRead(byte[] p, int maxCount) throws ProtocolException {
        requireSize("REGION_READ", p, REGION_ACCESS_SIZE);
        return access("REGION_READ", le(p), maxCount);
    }

    /** A REGION_WRITE request: 16 bytes then exactly {@code count} bytes of data, count as for reads. */
    public static RegionAccess decodeRegionWrite(byte[] p, int maxCount) throws ProtocolException {
        if (p.length < REGION_ACCESS_SIZE) throw ProtocolException.invalid("REGION_WRITE: payload of " + p.length + " bytes, at least 16 expected");
        RegionAccess a = access("REGION_WRITE", le(p), maxCount);
        if (p.length - REGION_ACCESS_SIZE != a.count())
            throw ProtocolException.invalid("REGION_WRITE: count " + a.count() + " but " + (p.length - REGION_ACCESS_SIZE) + " bytes of data");
        return a;
    }

    private static RegionAccess access(String what, ByteBuffer b, int maxCount) throws ProtocolException {
        long offset = b.getLong();
        int region = b.getInt(), count = b.getInt();
        if (offset < 0) throw ProtocolException.invalid(String.format("%s: offset 0x%x out of range", what, offset));
        if (count <= 0 || count > maxCount)
            throw ProtocolException.invalid(what + ": count " + Integer.toUnsignedString(count) + " is not 1.." + maxCount + " (max_data_xfer_size)");
        return new RegionAccess(offset, region, count);
    }

    /** A REGION_READ reply to {@code a}: its fields echoed, then exactly {@code a.count()} bytes. */
    public static byte[] decodeRegionReadReply(byte[] p, RegionAccess a) throws ProtocolException {
        if (p.length != REGION_ACCESS_SIZE + (long) a.count())
            throw ProtocolException.invalid("REGION_READ reply: " + p.length + " bytes for a read of " + a.count());
        ByteBuffer b = le(p);
        long off = b.getLong();
        int region = b.getInt(), count = b.getInt();
        if (off != a.offset() || region != a.region() || count != a.count())
            throw ProtocolException.invalid(String.format("REGION_READ reply: region %d offset 0x%x count %d for a read of region %d offset 0x%x count %d",
                    region, off, count, a.region(), a.offset(), a.count()));
        byte[] data = new byte[a.count()];
        b.get(data);
        return data;
    }

    /** A REGION_WRITE reply to {@code a}: 16 bytes echoing it. */
    public static void decodeRegionWriteReply(byte[] p, RegionAccess a) throws ProtocolException {
        requireSize("REGION_WRITE reply", p, REGION_ACCESS_SIZE);
        ByteBuffer b = le(p);
        long off = b.getLong();
        int region = b.getInt(), count = b.getInt();
        if (off != a.offset() || region != a.region() || count != a.count())
            throw ProtocolException.invalid("REGION_WRITE reply does not echo the write");
    }
}
