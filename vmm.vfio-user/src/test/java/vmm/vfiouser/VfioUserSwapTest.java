package vmm.vfiouser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.testing.DriverQueue;
import vmm.testing.EchoDevice;
import vmm.testing.HangGuard;

/**
 * The served function's model changes under a connected client as a device instance's does: swapped with the
 * driver's session kept (same queues, same ring positions), and held while no provider is there, the client's
 * requests waiting in the ring for the successor.
 */
class VfioUserSwapTest {
    private static final int WAIT_MS = (int) HangGuard.BOUND.toMillis();

    @TempDir
    Path dir;
    byte[] disk;
    VfioUserServer server;

    @BeforeEach
    void serve() throws Exception {
        disk = new byte[VfioUserServerTest.SECTORS * 512];
        new Random(11).nextBytes(disk);
        Path image = Files.write(dir.resolve("disk.img"), disk);
        server = VfioUserServer.start(dir.resolve("blk.sock"), "blk-swap", Map.of("path", image.toString()),
                "virtio-blk", new VirtioBlockProvider());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private byte[] read(DriverQueue q, RemoteVirtio v, int sector) throws Exception {
        q.add(List.of(VfioUserServerTest.request(0, sector)), 512, 1);
        q.kick();
        assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
        return Arrays.copyOf(q.await(HangGuard.BOUND).data(), 512);
    }

    private byte[] sector(int n) {
        return Arrays.copyOfRange(disk, n * 512, (n + 1) * 512);
    }

    @Test
    void aSwapUnderAConnectedClientKeepsTheDriversSession() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            DriverQueue q = v.start();
            assertThat(read(q, v, 5)).isEqualTo(sector(5));

            server.swapTo("virtio-blk-2", new VirtioBlockProvider());

            assertThat(read(q, v, 6)).isEqualTo(sector(6));
            assertThat(v.common(RemoteVirtio.COMMON_STATUS, 1) & RemoteVirtio.DRIVER_OK).isNotZero();
            assertThat(server.implementation()).isEqualTo("virtio-blk-2");
            assertThat(server.swapCount()).isEqualTo(1);
            assertThat(server.connections()).isEqualTo(1);
        }
    }

    @Test
    void aHeldFunctionKeepsItsClientAndTheSuccessorServesWhatItOfferedMeanwhile() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            DriverQueue q = v.start();
            assertThat(read(q, v, 1)).isEqualTo(sector(1));

            server.detach();
            assertThat(server.held()).isTrue();
            int head = q.add(List.of(VfioUserServerTest.request(0, 7)), 512, 1);
            q.kick(); // waits at the closed gate (bounded) and is dropped: the ring keeps the request

            server.swapTo("virtio-blk", new VirtioBlockProvider());

            assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
            DriverQueue.Completion done = q.await(HangGuard.BOUND);
            assertThat(done.head()).isEqualTo(head);
            assertThat(Arrays.copyOf(done.data(), 512)).isEqualTo(sector(7));
            assertThat(server.held()).isFalse();
            assertThat(c.isOpen()).isTrue();
            assertThat(server.connections()).isEqualTo(1);
        }
    }

    @Test
    void aSuccessorOfAnotherShapeIsRefusedAndTheFunctionStaysAsItWas() throws Exception {
        assertThatThrownBy(() -> server.swapTo("echo", EchoDevice.provider('E', 0)))
                .hasMessageContaining("does not match");
        server.detach();
        assertThatThrownBy(() -> server.swapTo("echo", EchoDevice.provider('E', 0)))
                .hasMessageContaining("does not match");
        assertThat(server.held()).isTrue();
        server.swapTo("virtio-blk", new VirtioBlockProvider());
        assertThat(server.held()).isFalse();
        assertThat(server.swapCount()).isEqualTo(1);
    }

    @Test
    void aClientThatLeavesAHeldFunctionLeavesItResetForTheNextClientOnceAProviderIsBack() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            DriverQueue q = v.start();
            assertThat(read(q, v, 2)).isEqualTo(sector(2));
            server.detach();
        } // leaves while the function is held: the function is reset, its memory unmapped
        server.swapTo("virtio-blk", new VirtioBlockProvider());
        try (VfioUserClient c = VfioUserClient.connect(server.socket());
             RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.findCapabilities();
            assertThat(v.common(RemoteVirtio.COMMON_STATUS, 1)).as("status after the last client left").isZero();
            v.mapMemory();
            v.routeMsix(2);
            DriverQueue q = v.initialize(VfioUserServerTest.VIRTIO_F_VERSION_1, 16);
            assertThat(read(q, v, 3)).isEqualTo(sector(3));
        }
        assertThat(server.connections()).isEqualTo(2);
    }
}
