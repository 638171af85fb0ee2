package vmm.core.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous run of guest RAM (or ROM): where it sits in guest-physical
 * space and the host mapping behind it. {@code fd} and {@code fdOffset} name
 * the shareable file the mapping came from, so a hypervisor or a vhost-user
 * peer can map the same pages; {@code fd} is -1 for memory that is not
 * shareable (heap-backed test memory).
 *
 * @param name      human-readable name for logs and errors
 * @param guestBase first guest-physical address
 * @param segment   the host mapping, exactly {@code size} bytes
 * @param fd        file descriptor backing the mapping, or -1
 * @param fdOffset  offset of the mapping in {@code fd}
 * @param readOnly  whether the guest sees this region as ROM
 */
public record RamRegion(String name, long guestBase, MemorySegment segment, int fd, long fdOffset, boolean readOnly) {

    public RamRegion {
        if (guestBase < 0) throw new IllegalArgumentException("region " + name + ": negative guest base");
        if (segment.byteSize() == 0) throw new IllegalArgumentException("region " + name + ": empty");
        if (Long.MAX_VALUE - guestBase < segment.byteSize())
            throw new IllegalArgumentException("region " + name + ": wraps the address space");
    }

    /** Size in bytes. */
    public long size() {
        return segment.byteSize();
    }

    /** One past the last guest-physical address. */
    public long guestEnd() {
        return guestBase + segment.byteSize();
    }

    /** Whether {@code [gpa, gpa+len)} lies wholly inside this region; false on overflow. */
    public boolean contains(long gpa, long len) {
        return len >= 0 && gpa >= guestBase && gpa - guestBase <= size() - len;
    }
}
