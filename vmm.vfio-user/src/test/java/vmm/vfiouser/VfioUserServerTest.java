package vmm.vfiouser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.vfiouser.VfioUser.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.linux.Native;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;

/**
 * Our client against our server in one JVM over a real Unix socket, with
 * device.virtio-block served: identity and BAR sizing through the config
 * region, BAR accesses, DMA from a memfd, MSI-X through eventfds, and a
 * virtio driver reading and writing the image through all of it.
 */
class VfioUserServerTest {
    /** A hang guard on an interrupt that must come (int milliseconds, for poll(2)). */
    private static final int WAIT_MS = (int) HangGuard.BOUND.toMillis();
    static final int SECTORS = 64;
    static final long VIRTIO_F_VERSION_1 = 1L << 32;

    @TempDir
    Path dir;
    Path image;
    byte[] disk;
    VfioUserServer server;

    @BeforeEach
    void serve() throws Exception {
        disk = new byte[SECTORS * 512];
        new Random(7).nextBytes(disk);
        image = dir.resolve("disk.img");
        Files.write(image, disk);
        server = VfioUserServer.start(dir.resolve("blk.sock"), "blk-test", Map.of("path", image.toString()), "virtio-blk",
                new VirtioBlockProvider());
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    @Test
    void describesAVirtioPciFunctionWithItsRegionsAndInterrupts() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket())) {
            assertThat(c.minorVersion()).isEqualTo(1);
            DeviceInfo d = c.deviceInfo();
            assertThat(d.isPci()).isTrue();
            assertThat(d.canReset()).isTrue();
            assertThat(d.numRegions()).isEqualTo(VFIO_PCI_NUM_REGIONS);
            assertThat(d.numIrqs()).isEqualTo(VFIO_PCI_NUM_IRQS);

            byte[] cfg = c.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, 0, 256);
            ByteBuffer b = ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(Short.toUnsignedInt(b.getShort(0))).as("vendor").isEqualTo(0x1af4);
            assertThat(Short.toUnsignedInt(b.getShort(2))).as("device: modern virtio-blk").isEqualTo(0x1042);

            assertThat(c.regionInfo(VFIO_PCI_CONFIG_REGION_INDEX).size()).isEqualTo(256);
            RegionInfo bar1 = c.regionInfo(1), bar4 = c.regionInfo(4), bar0 = c.regionInfo(0);
            assertThat(bar1.size()).isEqualTo(0x1000);
            assertThat(bar4.size()).isEqualTo(0x4000);
            assertThat(bar4.readable() && bar4.writable()).isTrue();
            assertThat(bar4.mappable()).isFalse();
            assertThat(bar0.size()).as("no legacy BAR").isZero();
            assertThat(c.regionInfo(VFIO_PCI_ROM_REGION_INDEX).size()).isZero();

            assertThat(c.irqInfo(VFIO_PCI_MSIX_IRQ_INDEX).count()).as("one vector per queue plus config").isEqualTo(2);
            assertThat(c.irqInfo(VFIO_PCI_INTX_IRQ_INDEX).flags() & VFIO_IRQ_INFO_AUTOMASKED).isNotZero();
            assertThat(c.irqInfo(VFIO_PCI_MSI_IRQ_INDEX).count()).isZero();
        }
    }

    @Test
    void barRegistersSizeAndMoveOnlyInTheClientsViewWhileAccessesStillReachTheDevice() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.configWrite(0x14, 4, -1);
            v.configWrite(0x20, 4, -1);
            v.configWrite(0x24, 4, -1);
            assertThat(v.config(0x14, 4)).as("BAR1: 4 KiB, 32-bit").isEqualTo(0xfffff000);
            assertThat(v.config(0x20, 4)).as("BAR4: 16 KiB, 64-bit prefetchable").isEqualTo(0xffffc00c);
            assertThat(v.config(0x24, 4)).isEqualTo(0xffffffff);
            assertThat(v.config(0x10, 4)).as("no BAR0").isZero();

            v.configWrite(0x20, 4, 0xfebf_0000);
            v.configWrite(0x24, 4, 0x1);
            assertThat(v.config(0x20, 4)).isEqualTo(0xfebf_000c);
            assertThat(v.config(0x24, 4)).isEqualTo(1);
            v.configWrite(0x04, 2, 0);
            assertThat(v.config(0x04, 2) & 0x3).as("decode bits as the client wrote them").isZero();

            // The server's own decode is unaffected: BAR4's common configuration still answers.
            v.findCapabilities();
            assertThat(v.common(RemoteVirtio.COMMON_NUMQ, 2)).as("num_queues").isEqualTo(1);
            v.common(RemoteVirtio.COMMON_DF_SELECT, 4, 1);
            assertThat(v.common(RemoteVirtio.COMMON_DF, 4) & 1).as("VERSION_1 in the high feature word").isEqualTo(1);
        }
    }

    @Test
    void msixControlAndTableBelongToTheClientWhileSetIrqsDecidesTheRouting() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            int cap = 0;
            for (int at = v.config(0x34, 1); at != 0; at = v.config(at + 1, 1)) if (v.config(at, 1) == 0x11) cap = at;
            assertThat(cap).as("an MSI-X capability").isNotZero();
            assertThat(v.config(cap + 2, 2)).as("table size 2, disabled").isEqualTo(1);
            v.configWrite(cap + 2, 2, 0xc000);
            assertThat(v.config(cap + 2, 2)).as("enable and mask-all as the client wrote them").isEqualTo(0xc001);
            assertThat(server.interruptsSignalled()).isZero();
            // The client's writes into the table (its own emulation's business) do not reach the server's table.
            v.write(1, 8, 4, 0x1234);
            assertThat(v.read(1, 8, 4)).as("the server's own entry").isNotEqualTo(0x1234);
        }
    }

    @Test
    void aVirtioDriverReadsAndWritesTheImageThroughDmaAndGetsAnMsixEventfdPerCompletion() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            DriverQueue q = v.start();

            // Read sector 5.
            int head = q.add(List.of(request(0, 5)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, WAIT_MS)).as("the queue's eventfd fired").isPositive();
            DriverQueue.Completion done = q.await(HangGuard.BOUND);
            assertThat(done.head()).isEqualTo(head);
            assertThat(java.util.Arrays.copyOfRange(done.data(), 0, 512)).isEqualTo(java.util.Arrays.copyOfRange(disk, 5 * 512, 6 * 512));
            assertThat(done.data()[512]).as("VIRTIO_BLK_S_OK").isZero();

            // Write sector 9 and see it in the image.
            byte[] sector = new byte[512];
            java.util.Arrays.fill(sector, (byte) 0x5a);
            q.add(List.of(request(1, 9), sector), 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
            assertThat(q.await(HangGuard.BOUND).data()[0]).isZero();
            assertThat(java.util.Arrays.copyOfRange(Files.readAllBytes(image), 9 * 512, 10 * 512)).isEqualTo(sector);
            assertThat(server.interruptsSignalled()).isGreaterThanOrEqualTo(2);
        }
    }

    static byte[] request(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    @Test
    void maskedVectorsHoldTheirInterruptUntilUnmasked() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            DriverQueue q = v.start();
            c.maskIrq(VFIO_PCI_MSIX_IRQ_INDEX, 1, true);
            q.add(List.of(request(0, 1)), 512, 1);
            q.kick();
            q.await(HangGuard.BOUND);
            assertThat(v.awaitInterrupt(1, 0)).as("masked: pending, not signalled").isZero();
            c.maskIrq(VFIO_PCI_MSIX_IRQ_INDEX, 1, false);
            assertThat(v.awaitInterrupt(1, WAIT_MS)).as("delivered on unmask").isPositive();
        }
    }

    @Test
    void withoutMsixTheDeviceRaisesIntxWhichMasksItselfUntilTheClientUnmasks() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.findCapabilities();
            v.mapMemory();
            int intx = Native.eventfd(true);
            v.eventfds.add(intx);
            c.setIrqEventfds(VFIO_PCI_INTX_IRQ_INDEX, 0, intx);
            DriverQueue q = v.initialize(VIRTIO_F_VERSION_1, 16);

            q.add(List.of(request(0, 2)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(0, WAIT_MS)).as("INTx fired").isPositive();
            q.await(HangGuard.BOUND);
            assertThat(v.read(v.commonBar, 0x1000, 1) & 1).as("ISR: queue interrupt; reading it lowers INTx").isEqualTo(1);

            q.add(List.of(request(0, 3)), 512, 1);
            q.kick();
            q.await(HangGuard.BOUND);
            assertThat(v.awaitInterrupt(0, 0)).as("auto-masked: no second event before UNMASK").isZero();
            c.maskIrq(VFIO_PCI_INTX_IRQ_INDEX, 0, false);
            assertThat(v.awaitInterrupt(0, WAIT_MS)).as("the line is still high: UNMASK delivers it").isPositive();
        }
    }

    @Test
    void memoryUnmappedUnderARunningDriverStaysMappedForItUntilTheDeviceIsReset() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            DriverQueue q = v.start();
            c.dmaUnmap(0, 4 << 20);
            // The session's rings and buffers still point into that memory: the server keeps it mapped, so the
            // request completes (a real IOMMU would fault it; what must never happen is a host access to unmapped memory).
            q.add(List.of(request(0, 4)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
            assertThat(java.util.Arrays.copyOf(q.await(HangGuard.BOUND).data(), 512))
                    .isEqualTo(java.util.Arrays.copyOfRange(disk, 4 * 512, 5 * 512));
            c.reset();
            // After the reset the next session sees only what is mapped now.
            DriverQueue none = v.initialize0(VIRTIO_F_VERSION_1, 16);
            assertThat(v.common(RemoteVirtio.COMMON_STATUS, 1) & RemoteVirtio.NEEDS_RESET).as("rings outside any DMA mapping").isNotZero();
            c.reset();
            v.mapMemory();
            q = v.initialize(VIRTIO_F_VERSION_1, 16);
            q.add(List.of(request(0, 6)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
            assertThat(none).isNotNull();
        }
    }

    @Test
    void dmaMapRefusalsComeBackAsErrnosAndTheConnectionGoesOn() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.mapMemory();
            int fd = v.memory.regions().get(0).fd();
            assertThatThrownBy(() -> c.dmaMap(0x1000, 0x1000, fd, 0, true))
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(EEXIST));
            assertThatThrownBy(() -> c.dmaMap(0x1000_0000, 8 << 20, fd, 0, true)).as("past the end of the memfd")
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL));
            assertThatThrownBy(() -> c.dmaMap(0x1000_0001, 0x1000, fd, 0, true)).as("unaligned")
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL));
            assertThatThrownBy(() -> c.dmaUnmap(0x2000, 0x1000)).as("not a mapping")
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(ENOENT));
            assertThatThrownBy(() -> c.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, 250, 8)).as("past the config space")
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL));
            assertThatThrownBy(() -> c.regionInfo(42))
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL));
            assertThatThrownBy(() -> c.setIrqEventfds(VFIO_PCI_MSIX_IRQ_INDEX, 1, Native.eventfd(true), Native.eventfd(true)))
                    .as("vectors 1..2 of 2").isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL));
            assertThat(c.isOpen()).isTrue();
            c.dmaUnmap(0, 4 << 20);
            assertThat(c.deviceInfo().numRegions()).isEqualTo(9);
        }
    }

    @Test
    void theNextClientFindsTheFunctionResetAndItsMemoryGone() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.start();
        }
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.findCapabilities();
            assertThat(v.common(RemoteVirtio.COMMON_STATUS, 1)).as("device status after the last client left").isZero();
            assertThatThrownBy(() -> c.dmaUnmap(0, 4 << 20)).as("the last client's mapping is gone")
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(ENOENT));
            v.mapMemory();
            v.routeMsix(2);
            DriverQueue q = v.initialize(VIRTIO_F_VERSION_1, 16);
            q.add(List.of(request(0, 0)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
            assertThat(java.util.Arrays.copyOf(q.await(HangGuard.BOUND).data(), 512))
                    .isEqualTo(java.util.Arrays.copyOf(disk, 512));
        }
        assertThat(server.connections()).isEqualTo(2);
    }

    @Test
    void deviceResetReturnsTheDriverStateToReset() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(server.socket()); RemoteVirtio v = new RemoteVirtio(c, 4 << 20)) {
            v.start();
            v.configWrite(0x20, 4, 0xfebf_0000);
            c.reset();
            assertThat(v.common(RemoteVirtio.COMMON_STATUS, 1)).isZero();
            assertThat(v.config(0x20, 4)).as("BAR4 as after reset").isEqualTo(0x0000000c);
            // The memory stays mapped across a reset: a new driver session works at once.
            DriverQueue q = v.initialize(VIRTIO_F_VERSION_1, 16);
            q.add(List.of(request(0, 3)), 512, 1);
            q.kick();
            assertThat(v.awaitInterrupt(1, WAIT_MS)).isPositive();
        }
    }

}
