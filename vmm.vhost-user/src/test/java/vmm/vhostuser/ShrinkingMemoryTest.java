package vmm.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.linux.Native;
import vmm.core.memory.GuestMemory;
import vmm.testing.DriverQueue;
import vmm.testing.EchoDevice;
import vmm.testing.MemfdRam;

/**
 * A front-end that takes back the memory it shared cannot take the back-end
 * down: a memfd it left sealable is sealed against shrinking, so it cannot
 * shrink it; one that cannot be sealed (as user-mode Linux's tmpfs memory
 * file) and is shrunk under the rings or under a request's buffers ends that
 * front-end's connection at the access that faults, with one reason logged,
 * and the same server goes on to serve the next front-end.
 */
class ShrinkingMemoryTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final long RAM = 4 << 20;

    @TempDir
    Path dir;
    private VhostUserServer server;
    private MemfdRam ram;

    @AfterEach
    void close() {
        if (server != null) server.close();
        if (ram != null) ram.close();
    }

    /** Guest RAM in a memfd the test keeps, so it can shrink it as a hostile front-end would. */
    private GuestMemory peerMemory(int flags) throws Exception {
        ram = MemfdRam.create("peer-ram", RAM, flags);
        return ram.memory();
    }

    @Test
    void aMemfdTheFrontEndLeftSealableIsSealedSoItCannotBeShrunk() throws Exception {
        server = VhostUserServer.start(dir.resolve("s.sock"), "shrink", Map.of(), "A", EchoDevice.provider('A', 0));
        GuestMemory sealable = peerMemory(Native.MFD_CLOEXEC | Native.MFD_ALLOW_SEALING);
        try (TestFrontend f = new TestFrontend(server.socket(), sealable).negotiate(0)) {
            DriverQueue q = f.ring(0, 16);
            assertThat(Native.seals(ram.fd()) & Native.F_SEAL_SHRINK).as("sealed by the back-end").isNotZero();
            assertThatThrownBy(() -> Native.truncate(ram.fd(), 64 << 10)).hasMessageContaining("Operation not permitted");
            q.add(List.of(VhostUserServerTest.request(5)), 8);
            q.kick();
            assertThat(ByteBuffer.wrap(q.await(TIMEOUT).data(), 1, 4).getInt()).isEqualTo(5);
        }
    }

    @Test
    void shrinkingAnUnsealableFileUnderTheRingsCutsThatFrontEndOffAndTheNextIsServed() throws Exception {
        server = VhostUserServer.start(dir.resolve("s.sock"), "shrink", Map.of(), "A", EchoDevice.provider('A', 0));
        try (TestFrontend f = new TestFrontend(server.socket(), peerMemory(Native.MFD_CLOEXEC)).negotiate(0)) {
            DriverQueue q = f.ring(0, 16); // rings from 1 MiB up
            q.add(List.of(VhostUserServerTest.request(1)), 8);
            Native.truncate(ram.fd(), 64 << 10);
            q.kick(); // the back-end's next look at the avail ring faults
            assertThat(f.hungUp()).as("the back-end closed the connection").isTrue();
        }
        assertThat(awaitFailure()).contains("front-end memory fault").contains("0x10000 bytes");
        assertServesANewFrontEnd();
    }

    @Test
    void shrinkingAnUnsealableFileUnderABlockRequestsBuffersCutsThatFrontEndOff() throws Exception {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile img = new RandomAccessFile(image.toFile(), "rw")) {
            img.setLength(1 << 20);
        }
        server = VhostUserServer.start(dir.resolve("b.sock"), "shrink-blk", Map.of("path", image.toString()),
                "virtio-blk", new VirtioBlockProvider());
        try (TestFrontend f = new TestFrontend(server.socket(), peerMemory(Native.MFD_CLOEXEC)).negotiate(0)) {
            DriverQueue q = f.ring(0, 16); // rings just above 1 MiB, kept
            f.allocator.allocate(2 << 20, 4096); // the request's buffers start past 3 MiB
            // A read of 8 sectors: header, then 4 KiB of data and the status byte for the device to write.
            byte[] header = readOfSector0();
            q.add(List.of(header), 4096, 1);
            Native.truncate(ram.fd(), 2 << 20);
            q.kick();
            assertThat(f.hungUp()).as("the back-end closed the connection").isTrue();
        }
        assertThat(awaitFailure()).contains("front-end memory fault").contains("0x200000 bytes");
        try (TestFrontend g = new TestFrontend(server.socket(), RAM).negotiate(0)) {
            DriverQueue q = g.ring(0, 16);
            byte[] header = readOfSector0();
            q.add(List.of(header), 512, 1);
            q.kick();
            DriverQueue.Completion c = q.await(TIMEOUT);
            assertThat(c.data()[c.data().length - 1]).as("VIRTIO_BLK_S_OK").isZero();
        }
    }

    /** A virtio-blk request header: VIRTIO_BLK_T_IN of sector 0. */
    private static byte[] readOfSector0() {
        return ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0).putLong(0).array();
    }

    private String awaitFailure() throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (server.lastFailure() == null && System.nanoTime() < deadline) Thread.sleep(5);
        return server.lastFailure();
    }

    private void assertServesANewFrontEnd() throws Exception {
        try (TestFrontend g = new TestFrontend(server.socket(), RAM).negotiate(0)) {
            DriverQueue q = g.ring(0, 16);
            q.add(List.of(VhostUserServerTest.request(7)), 8);
            q.kick();
            assertThat(ByteBuffer.wrap(q.await(TIMEOUT).data(), 1, 4).getInt()).isEqualTo(7);
        }
    }
}
