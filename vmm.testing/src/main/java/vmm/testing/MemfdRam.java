package vmm.testing;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import vmm.core.linux.Native;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;

/**
 * Guest RAM in a memfd the test keeps, descriptor and mapping, so that it can do to the file what a hostile peer
 * of a vhost-user or vfio-user server would (shrink it, look at its seals) while the server maps it. One thread.
 */
public final class MemfdRam implements AutoCloseable {
    private final int fd;
    private final MemorySegment mapping;
    private final GuestMemory memory;

    private MemfdRam(int fd, MemorySegment mapping, GuestMemory memory) {
        this.fd = fd;
        this.mapping = mapping;
        this.memory = memory;
    }

    /** {@code size} bytes of RAM from guest address 0 in a memfd named {@code name}, created with {@code flags}. */
    public static MemfdRam create(String name, long size, int flags) throws IOException {
        int fd = Native.memfd(name, size, flags);
        MemorySegment mapping;
        try {
            mapping = Native.mmapShared(fd, 0, size);
        } catch (IOException | RuntimeException e) {
            Native.close(fd);
            throw e;
        }
        return new MemfdRam(fd, mapping, GuestMemory.builder().region(new RamRegion(name, 0, mapping, fd, 0, false)).build());
    }

    /** The memfd, for the test's own system calls on it. */
    public int fd() {
        return fd;
    }

    /** The RAM as guest memory, to hand to a front-end or client that shares it. */
    public GuestMemory memory() {
        return memory;
    }

    /** Unmaps the test's mapping and closes its descriptor (a server's own mappings are its own). */
    @Override
    public void close() {
        Native.munmap(mapping);
        Native.close(fd);
    }
}
