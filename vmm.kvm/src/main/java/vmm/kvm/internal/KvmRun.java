package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

import vmm.core.hypervisor.GuestStateException;
import vmm.kvm.internal.abi.KvmStructs;

/**
 * Checked access to one vCPU's {@code kvm_run} mapping. The kernel writes the
 * exit fields, but a guest chooses much of what they say, so every offset and
 * size is checked against the mapping before it is used; a value outside the
 * ABI is a {@link GuestStateException}, never an out-of-bounds access.
 */
final class KvmRun {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final VarHandle IMMEDIATE_EXIT = run("immediate_exit");
    private static final VarHandle EXIT_REASON = run("exit_reason");
    private static final VarHandle IO_DIRECTION = exit("io", "direction"), IO_SIZE = exit("io", "size"),
            IO_PORT = exit("io", "port"), IO_COUNT = exit("io", "count"), IO_DATA_OFFSET = exit("io", "data_offset");
    private static final VarHandle MMIO_PHYS_ADDR = exit("mmio", "phys_addr"), MMIO_LEN = exit("mmio", "len"),
            MMIO_IS_WRITE = exit("mmio", "is_write");
    private static final long MMIO_DATA = KvmStructs.KVM_RUN.byteOffset(groupElement("exit"), groupElement("mmio"), groupElement("data"));
    private static final VarHandle FAIL_REASON = exit("fail_entry", "hardware_entry_failure_reason");
    private static final VarHandle INTERNAL_SUBERROR = exit("internal", "suberror"), INTERNAL_NDATA = exit("internal", "ndata");
    private static final long INTERNAL_DATA = KvmStructs.KVM_RUN.byteOffset(groupElement("exit"), groupElement("internal"), groupElement("data"));
    private static final VarHandle EVENT_TYPE = exit("system_event", "type"), EVENT_NDATA = exit("system_event", "ndata");
    private static final long EVENT_DATA = KvmStructs.KVM_RUN.byteOffset(groupElement("exit"), groupElement("system_event"), groupElement("data"));
    private static final int MAX_DATA_WORDS = 16;

    /** A port access: {@code count} elements of {@code size} bytes at {@code dataOffset} of the mapping. */
    record IoExit(boolean out, int size, int port, int count, long dataOffset) {}

    /** An MMIO access of {@code len} bytes (1 to 8). */
    record MmioExit(long address, int len, boolean write) {}

    private final MemorySegment map;

    /** @param map the whole vCPU mapping, {@code KVM_GET_VCPU_MMAP_SIZE} bytes */
    KvmRun(MemorySegment map) {
        if (map.byteSize() < KvmStructs.KVM_RUN.byteSize())
            throw new IllegalArgumentException("the kvm_run mapping is smaller than struct kvm_run");
        this.map = map;
    }

    private static VarHandle run(String field) {
        return KvmStructs.KVM_RUN.varHandle(groupElement(field));
    }

    private static VarHandle exit(String union, String field) {
        return KvmStructs.KVM_RUN.varHandle(groupElement("exit"), groupElement(union), groupElement(field));
    }

    int exitReason() {
        return (int) EXIT_REASON.get(map, 0L);
    }

    /** Sets {@code immediate_exit} with a volatile store, so a KVM_RUN about to start sees it. */
    void immediateExit(boolean on) {
        IMMEDIATE_EXIT.setVolatile(map, 0L, (byte) (on ? 1 : 0));
    }

    /** The port exit, checked: size 1, 2 or 4, count at least 1, data wholly inside the mapping. */
    IoExit io() {
        int size = Byte.toUnsignedInt((byte) IO_SIZE.get(map, 0L));
        int direction = Byte.toUnsignedInt((byte) IO_DIRECTION.get(map, 0L));
        int port = Short.toUnsignedInt((short) IO_PORT.get(map, 0L));
        long count = Integer.toUnsignedLong((int) IO_COUNT.get(map, 0L));
        long offset = (long) IO_DATA_OFFSET.get(map, 0L);
        if (size != 1 && size != 2 && size != 4)
            throw new GuestStateException(String.format("KVM_EXIT_IO at port 0x%x: size %d is not 1, 2 or 4", port, size));
        if (direction != 0 && direction != 1)
            throw new GuestStateException(String.format("KVM_EXIT_IO at port 0x%x: direction %d", port, direction));
        if (count < 1 || count > map.byteSize() / size)
            throw new GuestStateException(String.format("KVM_EXIT_IO at port 0x%x: count %d", port, count));
        if (offset < 0 || offset > map.byteSize() - count * size)
            throw new GuestStateException(String.format(
                    "KVM_EXIT_IO at port 0x%x: data [0x%x, +%d) lies outside the %d-byte kvm_run mapping",
                    port, offset, count * size, map.byteSize()));
        return new IoExit(direction == 1, size, port, (int) count, offset);
    }

    /** The MMIO exit, checked: length 1 to 8. */
    MmioExit mmio() {
        long addr = (long) MMIO_PHYS_ADDR.get(map, 0L);
        long len = Integer.toUnsignedLong((int) MMIO_LEN.get(map, 0L));
        if (len < 1 || len > 8)
            throw new GuestStateException(String.format("KVM_EXIT_MMIO at 0x%x: length %d is not 1 to 8", addr, len));
        return new MmioExit(addr, (int) len, (byte) MMIO_IS_WRITE.get(map, 0L) != 0);
    }

    /** Element {@code i} of a checked port exit's data. */
    long ioData(IoExit io, int i) {
        return load(io.dataOffset() + (long) i * io.size(), io.size());
    }

    void ioData(IoExit io, int i, long value) {
        store(io.dataOffset() + (long) i * io.size(), io.size(), value);
    }

    /** Byte {@code i} (little-endian) of the MMIO data. */
    int mmioByte(int i) {
        return Byte.toUnsignedInt(map.get(ValueLayout.JAVA_BYTE, MMIO_DATA + i));
    }

    void mmioByte(int i, int value) {
        map.set(ValueLayout.JAVA_BYTE, MMIO_DATA + i, (byte) value);
    }

    long mmioData(int len) {
        return load(MMIO_DATA, len);
    }

    void mmioData(int len, long value) {
        store(MMIO_DATA, len, value);
    }

    long failureReason() {
        return (long) FAIL_REASON.get(map, 0L);
    }

    int internalSuberror() {
        return (int) INTERNAL_SUBERROR.get(map, 0L);
    }

    /** {@code internal.data[0..ndata)}, with {@code ndata} clamped to the array's 16 words. */
    long[] internalData() {
        return words(INTERNAL_DATA, (int) INTERNAL_NDATA.get(map, 0L));
    }

    int systemEventType() {
        return (int) EVENT_TYPE.get(map, 0L);
    }

    long[] systemEventData() {
        return words(EVENT_DATA, (int) EVENT_NDATA.get(map, 0L));
    }

    private long[] words(long offset, int ndata) {
        int n = (int) Math.min(Integer.toUnsignedLong(ndata), MAX_DATA_WORDS);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) out[i] = map.get(LE64, offset + 8L * i);
        return out;
    }

    private long load(long off, int size) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(map.get(ValueLayout.JAVA_BYTE, off));
            case 2 -> Short.toUnsignedLong(map.get(LE16, off));
            case 4 -> Integer.toUnsignedLong(map.get(LE32, off));
            case 8 -> map.get(LE64, off);
            default -> throw new IllegalArgumentException("size " + size);
        };
    }

    private void store(long off, int size, long v) {
        switch (size) {
            case 1 -> map.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> map.set(LE16, off, (short) v);
            case 4 -> map.set(LE32, off, (int) v);
            case 8 -> map.set(LE64, off, v);
            default -> throw new IllegalArgumentException("size " + size);
        }
    }
}
