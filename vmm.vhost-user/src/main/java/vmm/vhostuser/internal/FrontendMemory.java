package vmm.vhostuser.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.core.linux.Native;
import vmm.vhostuser.protocol.Message;
import vmm.vhostuser.protocol.ProtocolException;
import vmm.vhostuser.protocol.VhostUser;

/**
 * The front-end's memory as SET_MEM_TABLE describes it: each region's fd
 * mapped here, assembled into a {@link GuestMemory} (so the core's checked
 * virtqueue code works on it unchanged), plus the table that turns the
 * front-end's own virtual addresses (which vring addresses are given in)
 * into guest-physical ones. Closing unmaps the regions and closes the fds.
 *
 * <p>A region's file is sealed against shrinking when the front-end left that possible (QEMU's
 * memfds come sealed already). User-mode Linux's memory is an unlinked tmpfs file that cannot be
 * sealed: it is only checked to be long enough when mapped, and an access after the front-end
 * shrank it faults ({@link vmm.core.linux.PeerMemoryFault}), which the connection turns into
 * cutting that front-end off.
 */
final class FrontendMemory implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.vhost-user");
    /** @param fileEnd how far into its file the region is mapped: the file must stay at least this long */
    private record Region(long guestAddr, long size, long userAddr, long fileEnd) {}

    private final GuestMemory memory;
    private final List<Region> regions;
    private final List<MemorySegment> mappings;
    private final int[] fds;

    private FrontendMemory(GuestMemory memory, List<Region> regions, List<MemorySegment> mappings, int[] fds) {
        this.memory = memory;
        this.regions = regions;
        this.mappings = mappings;
        this.fds = fds;
    }

    /** Parses and maps a SET_MEM_TABLE message; takes ownership of its fds (closed on failure). */
    static FrontendMemory map(Message m) throws ProtocolException {
        List<MemorySegment> mappings = new ArrayList<>();
        try {
            m.requireAtLeast(VhostUser.MEM_TABLE_HEADER);
            ByteBuffer b = m.body();
            int n = b.getInt(0);
            if (n < 1 || n > VhostUser.MAX_MEM_REGIONS)
                throw new ProtocolException("SET_MEM_TABLE: " + n + " regions, expected 1.." + VhostUser.MAX_MEM_REGIONS);
            // Front-ends may send the whole fixed-size table (user-mode Linux does), unused entries included.
            m.requireAtLeast(VhostUser.MEM_TABLE_HEADER + n * VhostUser.MEM_REGION_SIZE);
            if (m.payload().length > VhostUser.MEM_TABLE_HEADER + VhostUser.MAX_MEM_REGIONS * VhostUser.MEM_REGION_SIZE)
                throw new ProtocolException("SET_MEM_TABLE: payload of " + m.payload().length + " bytes is larger than a table of "
                        + VhostUser.MAX_MEM_REGIONS + " regions");
            if (m.fds().length != n)
                throw new ProtocolException("SET_MEM_TABLE: " + n + " regions but " + m.fds().length + " file descriptors");
            List<Region> regions = new ArrayList<>();
            List<Integer> unsealed = new ArrayList<>();
            GuestMemory.Builder builder = GuestMemory.builder();
            for (int i = 0; i < n; i++) {
                int at = VhostUser.MEM_TABLE_HEADER + i * VhostUser.MEM_REGION_SIZE;
                long gpa = b.getLong(at), size = b.getLong(at + 8), uva = b.getLong(at + 16), offset = b.getLong(at + 24);
                if (size <= 0 || gpa < 0 || offset < 0 || uva < 0 || Long.MAX_VALUE - gpa < size || Long.MAX_VALUE - offset < size
                        || Long.MAX_VALUE - uva < size)
                    throw new ProtocolException(String.format("SET_MEM_TABLE: region %d (guest 0x%x, size 0x%x, user 0x%x, offset 0x%x) is out of range",
                            i, gpa, size, uva, offset));
                // Touching a mapping past the end of its file faults: the file is sealed against shrinking
                // where it can be, and must be long enough now in any case.
                boolean sealed;
                try {
                    sealed = Native.guardPeerMemory(m.fds()[i], offset + size);
                } catch (IOException e) {
                    throw new ProtocolException(String.format(
                            "SET_MEM_TABLE: region %d (offset 0x%x, size 0x%x) cannot be mapped: %s",
                            i, offset, size, e.getMessage()), e);
                }
                if (!sealed) unsealed.add(i);
                // mmap offsets must be page-aligned; the table's need not be, so map from 0 and slice.
                MemorySegment whole;
                try {
                    whole = Native.mmapShared(m.fds()[i], 0, offset + size);
                } catch (IOException e) {
                    throw new ProtocolException("SET_MEM_TABLE: region " + i + " cannot be mapped: " + e.getMessage(), e);
                }
                mappings.add(whole);
                builder.region(new RamRegion("vhost-user-" + i, gpa, whole.asSlice(offset, size), m.fds()[i], offset, false));
                regions.add(new Region(gpa, size, uva, offset + size));
            }
            for (int i = 0; i < regions.size(); i++)
                for (int j = i + 1; j < regions.size(); j++) {
                    Region a = regions.get(i), c = regions.get(j);
                    if (a.userAddr < c.userAddr + c.size && c.userAddr < a.userAddr + a.size)
                        throw new ProtocolException("SET_MEM_TABLE: regions " + i + " and " + j + " overlap in the front-end's address space");
                }
            GuestMemory memory;
            try {
                memory = builder.build();
            } catch (IllegalArgumentException e) {
                throw new ProtocolException("SET_MEM_TABLE: " + e.getMessage(), e);
            }
            if (!unsealed.isEmpty())
                LOG.log(Level.INFO, "front-end memory regions {0} cannot be sealed against shrinking; "
                        + "a shrink under them ends the connection at the next access", unsealed);
            return new FrontendMemory(memory, List.copyOf(regions), mappings, m.fds().clone());
        } catch (ProtocolException | RuntimeException e) {
            mappings.forEach(Native::munmap);
            for (int fd : m.fds()) Native.close(fd);
            throw e;
        }
    }

    /**
     * Why this memory can no longer be used: a region whose file the front-end shrank under its
     * mapping (possible only where it could not be sealed), or null while every file is long enough.
     */
    String shrunk() {
        for (int i = 0; i < regions.size(); i++) {
            long size;
            try {
                size = Native.fileSize(fds[i]);
            } catch (IOException e) {
                return "memory region " + i + ": " + e.getMessage();
            }
            if (size < regions.get(i).fileEnd)
                return String.format(
                        "the front-end shrank memory region %d's file to 0x%x bytes, under the 0x%x bytes mapped",
                        i, size, regions.get(i).fileEnd);
        }
        return null;
    }

    GuestMemory memory() {
        return memory;
    }

    /**
     * The guest-physical address of the front-end's virtual range
     * {@code [uva, uva+len)}, which must lie inside one region.
     */
    long toGuest(long uva, long len, String what) throws ProtocolException {
        for (Region r : regions)
            if (uva >= r.userAddr && len >= 0 && uva - r.userAddr <= r.size - len) return r.guestAddr + (uva - r.userAddr);
        throw new ProtocolException(String.format("%s at front-end address 0x%x (+0x%x) is outside the memory table", what, uva, len));
    }

    @Override
    public void close() {
        memory.close();
        mappings.forEach(Native::munmap);
        for (int fd : fds) Native.close(fd);
    }
}
