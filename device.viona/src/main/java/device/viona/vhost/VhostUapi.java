package device.viona.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Request numbers and struct layouts of {@code uapi/linux/vhost.h} and
 * {@code vhost_types.h}, and encoders for them. Pure.
 */
public final class VhostUapi {
    private VhostUapi() {}

    public static final int VHOST_VIRTIO = 0xAF;
    private static final int IOC_WRITE = 1, IOC_READ = 2;

    /** The kernel's _IOC: direction, size, type, number. */
    static long ioc(int dir, int nr, int size) {
        return ((long) dir << 30) | ((long) size << 16) | (VHOST_VIRTIO << 8) | nr;
    }

    // struct sizes
    public static final int VHOST_VRING_STATE_SIZE = 8;   // { unsigned int index, num; }
    public static final int VHOST_VRING_FILE_SIZE = 8;    // { unsigned int index; int fd; }
    public static final int VHOST_VRING_ADDR_SIZE = 40;   // { u32 index, flags; u64 desc, used, avail, log; }
    public static final int VHOST_MEMORY_SIZE = 8;        // { u32 nregions, padding; regions[] }
    public static final int VHOST_MEMORY_REGION_SIZE = 32; // { u64 guest_phys_addr, memory_size, userspace_addr, flags_padding; }

    public static final long VHOST_GET_FEATURES = ioc(IOC_READ, 0x00, 8);
    public static final long VHOST_SET_FEATURES = ioc(IOC_WRITE, 0x00, 8);
    public static final long VHOST_SET_OWNER = ioc(0, 0x01, 0);
    public static final long VHOST_RESET_OWNER = ioc(0, 0x02, 0);
    public static final long VHOST_SET_MEM_TABLE = ioc(IOC_WRITE, 0x03, VHOST_MEMORY_SIZE);
    public static final long VHOST_SET_VRING_NUM = ioc(IOC_WRITE, 0x10, VHOST_VRING_STATE_SIZE);
    public static final long VHOST_SET_VRING_ADDR = ioc(IOC_WRITE, 0x11, VHOST_VRING_ADDR_SIZE);
    public static final long VHOST_SET_VRING_BASE = ioc(IOC_WRITE, 0x12, VHOST_VRING_STATE_SIZE);
    public static final long VHOST_GET_VRING_BASE = ioc(IOC_READ | IOC_WRITE, 0x12, VHOST_VRING_STATE_SIZE);
    public static final long VHOST_SET_VRING_KICK = ioc(IOC_WRITE, 0x20, VHOST_VRING_FILE_SIZE);
    public static final long VHOST_SET_VRING_CALL = ioc(IOC_WRITE, 0x21, VHOST_VRING_FILE_SIZE);
    public static final long VHOST_NET_SET_BACKEND = ioc(IOC_WRITE, 0x30, VHOST_VRING_FILE_SIZE);

    /** A guest RAM range and where it is mapped in this process. */
    public record Region(long guestPhysAddr, long memorySize, long userspaceAddr) {}

    static MemorySegment u64(Arena a, long v) {
        MemorySegment s = a.allocate(8, 8);
        s.set(ValueLayout.JAVA_LONG, 0, v);
        return s;
    }

    static MemorySegment vringState(Arena a, int index, int num) {
        MemorySegment s = a.allocate(VHOST_VRING_STATE_SIZE, 4);
        s.set(ValueLayout.JAVA_INT, 0, index);
        s.set(ValueLayout.JAVA_INT, 4, num);
        return s;
    }

    static MemorySegment vringFile(Arena a, int index, int fd) {
        MemorySegment s = a.allocate(VHOST_VRING_FILE_SIZE, 4);
        s.set(ValueLayout.JAVA_INT, 0, index);
        s.set(ValueLayout.JAVA_INT, 4, fd);
        return s;
    }

    static MemorySegment vringAddr(Arena a, int index, int flags, long desc, long used, long avail, long log) {
        MemorySegment s = a.allocate(VHOST_VRING_ADDR_SIZE, 8);
        s.set(ValueLayout.JAVA_INT, 0, index);
        s.set(ValueLayout.JAVA_INT, 4, flags);
        s.set(ValueLayout.JAVA_LONG, 8, desc);
        s.set(ValueLayout.JAVA_LONG, 16, used);
        s.set(ValueLayout.JAVA_LONG, 24, avail);
        s.set(ValueLayout.JAVA_LONG, 32, log);
        return s;
    }

    static MemorySegment memory(Arena a, List<Region> regions) {
        MemorySegment s = a.allocate(VHOST_MEMORY_SIZE + (long) VHOST_MEMORY_REGION_SIZE * regions.size(), 8);
        s.set(ValueLayout.JAVA_INT, 0, regions.size());
        for (int i = 0; i < regions.size(); i++) {
            long o = VHOST_MEMORY_SIZE + (long) VHOST_MEMORY_REGION_SIZE * i;
            Region r = regions.get(i);
            s.set(ValueLayout.JAVA_LONG, o, r.guestPhysAddr());
            s.set(ValueLayout.JAVA_LONG, o + 8, r.memorySize());
            s.set(ValueLayout.JAVA_LONG, o + 16, r.userspaceAddr());
        }
        return s;
    }
}
