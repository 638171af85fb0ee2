package device.pci_passthru.vfio;

import java.lang.foreign.MemorySegment;

/**
 * A part of a region mmap'd into the VMM, to be given to the guest as a
 * memory slot. Closing it unmaps it; the slot using it must be removed first.
 */
public interface MappedArea extends AutoCloseable {
    /** The mapping; valid until {@link #close()}. Accessing it reads and writes the device directly. */
    MemorySegment segment();

    /** Unmaps; idempotent. */
    @Override
    void close();
}
