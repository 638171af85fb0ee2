package vmm.vfiouser.internal.server;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import vmm.core.linux.Native;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.vfiouser.VfioUser;
import vmm.vfiouser.internal.protocol.Codec;
import vmm.vfiouser.internal.protocol.ProtocolException;

/**
 * The client's memory as its DMA_MAP messages describe it: each region's fd
 * mapped here, and a {@link GuestMemory} over all of them (DMA addresses
 * are the device's guest-physical addresses) for the device's queues.
 *
 * <p>A snapshot handed to the device stays valid for the whole driver
 * session (until the device is reset), so a region it covers is not
 * unmapped by DMA_UNMAP while that snapshot may be in use: it leaves the
 * table at once (new sessions do not see it) and is unmapped at the next
 * device reset or disconnect. At most {@value #MAX_MAPS} live and as many
 * such retired mappings exist; past that the request is refused.
 *
 * <p>A region's file is sealed against shrinking where the client left that possible (QEMU's
 * memfds come sealed); one that cannot be sealed is size-checked when mapped, and {@link #shrunk()}
 * tells whether the client shrank it since: an access past its new end faults
 * ({@link vmm.core.linux.PeerMemoryFault}), and the connection cuts that client off.
 * Thread-safe.
 */
final class DmaSpace implements AutoCloseable {
    /** Most regions mapped at once (QEMU maps a handful: RAM below and above the PCI hole, ROMs). */
    static final int MAX_MAPS = 64;
    static final long PAGE = 4096;

    private record Mapping(long iova, long size, int fd, long offset, boolean writable, MemorySegment mapping, int id,
                           boolean sealed) {
        boolean overlaps(long a, long s) {
            return a < iova + size && iova < a + s;
        }
    }

    private final String owner;
    private final List<Mapping> live = new ArrayList<>();
    private final List<Mapping> retired = new ArrayList<>();
    private GuestMemory current;
    private boolean handedOut;
    private int nextId;

    DmaSpace(String owner) {
        this.owner = owner;
        this.current = GuestMemory.builder().build();
    }

    /**
     * Maps a DMA_MAP region; takes ownership of {@code fd} (closed on failure).
     *
     * @throws ProtocolException EINVAL for unaligned or unbacked ranges, EEXIST for overlaps, ENOSPC past the limit
     */
    synchronized void map(Codec.DmaMap m, int fd) throws ProtocolException {
        try {
            if (fd < 0)
                throw ProtocolException.refuse(VfioUser.ENOTSUP, String.format("DMA_MAP at 0x%x without a file descriptor: this server only maps client memory by fd (no DMA_READ/DMA_WRITE)", m.address()));
            if (m.address() % PAGE != 0 || m.size() % PAGE != 0 || m.offset() % PAGE != 0)
                throw ProtocolException.invalid(String.format("DMA_MAP: address 0x%x size 0x%x offset 0x%x are not multiples of the 4 KiB page size (pgsizes)",
                        m.address(), m.size(), m.offset()));
            for (Mapping x : live)
                if (x.overlaps(m.address(), m.size()))
                    throw ProtocolException.refuse(VfioUser.EEXIST, String.format("DMA_MAP: [0x%x, +0x%x) overlaps the mapping at 0x%x", m.address(), m.size(), x.iova()));
            if (live.size() >= MAX_MAPS)
                throw ProtocolException.refuse(VfioUser.ENOSPC, "DMA_MAP: " + MAX_MAPS + " regions are mapped already");
            // Touching a mapping past the end of its file faults: the file is sealed against shrinking where it
            // can be, and must be long enough now in any case.
            boolean sealed;
            try {
                sealed = Native.guardPeerMemory(fd, m.offset() + m.size());
            } catch (IOException e) {
                throw ProtocolException.invalid(String.format("DMA_MAP: offset 0x%x size 0x%x cannot be mapped: %s",
                        m.offset(), m.size(), e.getMessage()));
            }
            MemorySegment seg;
            try {
                seg = Native.mmapShared(fd, m.offset(), m.size(), m.writable());
            } catch (IOException e) {
                throw ProtocolException.refuse(VfioUser.ENOMEM, "DMA_MAP: " + e.getMessage());
            }
            Mapping x = new Mapping(m.address(), m.size(), fd, m.offset(), m.writable(), seg, nextId++, sealed);
            live.add(x);
            try {
                rebuild();
            } catch (IllegalArgumentException e) {
                live.remove(x);
                Native.munmap(seg);
                throw ProtocolException.invalid("DMA_MAP: " + e.getMessage());
            }
        } catch (ProtocolException | RuntimeException e) {
            Native.close(fd);
            throw e;
        }
    }

    /**
     * Withdraws the mapping of exactly {@code [address, address+size)}.
     *
     * @throws ProtocolException ENOENT when there is none, EBUSY when too many retired mappings wait for a reset
     */
    synchronized void unmap(Codec.DmaUnmap u) throws ProtocolException {
        Mapping x = null;
        for (Mapping m : live) if (m.iova() == u.address() && m.size() == u.size()) x = m;
        if (x == null)
            throw ProtocolException.refuse(VfioUser.ENOENT, String.format("DMA_UNMAP: no mapping is exactly [0x%x, +0x%x)", u.address(), u.size()));
        if (handedOut && retired.size() >= MAX_MAPS)
            throw ProtocolException.refuse(VfioUser.EBUSY, "DMA_UNMAP: " + MAX_MAPS + " unmapped regions still wait for the device to be reset");
        live.remove(x);
        if (handedOut) retired.add(x);
        else release(x);
        rebuild();
    }

    /** The memory the device works on from now until it is reset. */
    synchronized GuestMemory snapshot() {
        handedOut = true;
        return current;
    }

    /** The device was reset and drained: no snapshot is in use any more, so retired mappings can go. */
    synchronized void deviceReset() {
        retired.forEach(DmaSpace::release);
        retired.clear();
        handedOut = false;
    }

    /**
     * Why the client's memory can no longer be used: a mapping whose file it shrank under us (possible
     * only for a file that could not be sealed), or null. Costs an fstat per unsealed mapping.
     */
    synchronized String shrunk() {
        for (List<Mapping> list : List.of(live, retired))
            for (Mapping m : list) {
                if (m.sealed()) continue;
                try {
                    long size = Native.fileSize(m.fd());
                    if (size < m.offset() + m.size())
                        return String.format("the client shrank the file of its DMA region at 0x%x to 0x%x bytes, "
                                + "under the 0x%x bytes mapped", m.iova(), size, m.offset() + m.size());
                } catch (IOException e) {
                    return "DMA region at 0x" + Long.toHexString(m.iova()) + ": " + e.getMessage();
                }
            }
        return null;
    }

    /** Number of live mappings (for tests and logs). */
    synchronized int mappings() {
        return live.size();
    }

    private void rebuild() {
        GuestMemory.Builder b = GuestMemory.builder();
        for (Mapping m : live)
            b.region(new RamRegion(owner + "-dma-" + m.id(), m.iova(), m.mapping(), m.fd(), m.offset(), !m.writable()));
        current = b.build();
    }

    private static void release(Mapping m) {
        Native.munmap(m.mapping());
        Native.close(m.fd());
    }

    /** Drops every mapping; the device must be reset and drained first. */
    @Override
    public synchronized void close() {
        live.forEach(DmaSpace::release);
        live.clear();
        deviceReset();
        current = GuestMemory.builder().build();
    }
}
