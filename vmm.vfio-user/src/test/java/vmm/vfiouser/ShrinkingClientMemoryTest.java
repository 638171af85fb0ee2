package vmm.vfiouser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.linux.Native;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.testing.DriverQueue;

/**
 * A client that takes back the memory it mapped for DMA cannot take the
 * server down: a memfd it left sealable is sealed against shrinking by
 * DMA_MAP, so it cannot shrink it; one that cannot be sealed and is shrunk
 * under a mapping ends that client's connection, and the same server serves
 * the next client.
 */
class ShrinkingClientMemoryTest {
    private static final long RAM = 4 << 20;

    @TempDir
    Path dir;
    private VfioUserServer server;
    private int memfd = -1;
    private MemorySegment mapping;

    @BeforeEach
    void serve() throws Exception {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 16]);
        server = VfioUserServer.start(dir.resolve("blk.sock"), "shrink", Map.of("path", image.toString()), "virtio-blk",
                new VirtioBlockProvider());
    }

    @AfterEach
    void close() {
        server.close();
        if (mapping != null) Native.munmap(mapping);
        Native.close(memfd);
    }

    private GuestMemory clientMemory(int flags) throws Exception {
        memfd = Native.memfd("client-ram", RAM, flags);
        mapping = Native.mmapShared(memfd, 0, RAM);
        return GuestMemory.builder().region(new RamRegion("client", 0, mapping, memfd, 0, false)).build();
    }

    private static DriverQueue ready(RemoteVirtio v) throws Exception {
        return v.start();
    }

    @Test
    void aMemfdTheClientLeftSealableIsSealedByDmaMapSoItCannotBeShrunk() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, clientMemory(Native.MFD_CLOEXEC | Native.MFD_ALLOW_SEALING))) {
            DriverQueue q = ready(v);
            assertThat(Native.seals(memfd) & Native.F_SEAL_SHRINK).as("sealed by the server").isNotZero();
            assertThatThrownBy(() -> Native.truncate(memfd, 1 << 20)).hasMessageContaining("Operation not permitted");
            q.add(List.of(VfioUserServerTest.request(0, 0)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, 30_000)).isPositive();
            DriverQueue.Completion done = q.poll();
            assertThat(done.data()[done.data().length - 1]).as("VIRTIO_BLK_S_OK").isZero();
        }
    }

    @Test
    void shrinkingAnUnsealableFileUnderAMappingCutsThatClientOffAndTheNextIsServed() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, clientMemory(Native.MFD_CLOEXEC))) {
            DriverQueue q = ready(v);
            v.allocator.allocate(2 << 20, 4096); // the request's buffers lie past 3 MiB, the rings near 1 MiB
            q.add(List.of(VfioUserServerTest.request(0, 0)), 4096, 1);
            Native.truncate(memfd, 2 << 20);
            assertThatThrownBy(() -> q.kick()).as("the kick is the client's last message").isNotNull();
        }
        // The accept loop records the failure after cleanup.
        for (int i = 0; i < 3000 && server.connected(); i++) Thread.sleep(10);
        assertThat(server.lastFailure()).contains("client memory fault").contains("0x200000 bytes");
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, RAM)) {
            DriverQueue q = ready(v);
            q.add(List.of(VfioUserServerTest.request(0, 0)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, 30_000)).isPositive();
            DriverQueue.Completion done = q.poll();
            assertThat(done.data()[done.data().length - 1]).as("VIRTIO_BLK_S_OK").isZero();
        }
    }
}
