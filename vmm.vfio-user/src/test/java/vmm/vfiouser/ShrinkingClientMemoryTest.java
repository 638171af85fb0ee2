package vmm.vfiouser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import vmm.testing.DriverQueue;
import vmm.testing.MemfdRam;

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
    private MemfdRam ram;

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
        if (ram != null) ram.close();
    }

    private GuestMemory clientMemory(int flags) throws Exception {
        ram = MemfdRam.create("client-ram", RAM, flags);
        return ram.memory();
    }

    @Test
    void aMemfdTheClientLeftSealableIsSealedByDmaMapSoItCannotBeShrunk() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, clientMemory(Native.MFD_CLOEXEC | Native.MFD_ALLOW_SEALING))) {
            DriverQueue q = v.start();
            assertThat(Native.seals(ram.fd()) & Native.F_SEAL_SHRINK).as("sealed by the server").isNotZero();
            assertThatThrownBy(() -> Native.truncate(ram.fd(), 1 << 20)).hasMessageContaining("Operation not permitted");
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
            DriverQueue q = v.start();
            v.allocator.allocate(2 << 20, 4096); // the request's buffers lie past 3 MiB, the rings near 1 MiB
            q.add(List.of(VfioUserServerTest.request(0, 0)), 4096, 1);
            Native.truncate(ram.fd(), 2 << 20);
            assertThatThrownBy(() -> q.kick()).as("the kick is the client's last message").isNotNull();
        }
        // The accept loop records the failure after cleanup.
        for (int i = 0; i < 3000 && server.connected(); i++) Thread.sleep(10);
        assertThat(server.lastFailure()).contains("client memory fault").contains("0x200000 bytes");
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, RAM)) {
            DriverQueue q = v.start();
            q.add(List.of(VfioUserServerTest.request(0, 0)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, 30_000)).isPositive();
            DriverQueue.Completion done = q.poll();
            assertThat(done.data()[done.data().length - 1]).as("VIRTIO_BLK_S_OK").isZero();
        }
    }
}
