package device.virtio_block;

import static device.virtio_block.Requests.header;
import static device.virtio_block.Requests.pattern;
import static device.virtio_block.VirtioBlockTest.ALL;
import static device.virtio_block.VirtioBlockTest.SLOT;
import static device.virtio_block.VirtioBlockTest.TIMEOUT;
import static device.virtio_block.VirtioBlockTest.config;
import static device.virtio_block.protocol.VirtioBlk.VIRTIO_BLK_S_OK;
import static device.virtio_block.protocol.VirtioBlk.VIRTIO_BLK_T_IN;
import static device.virtio_block.protocol.VirtioBlk.VIRTIO_BLK_T_OUT;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.machine.DeviceInstance;
import vmm.core.memory.GuestMemory;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/** Save, restore and hot swap: what a successor needs, and no request lost or done twice. */
@ExtendWith(TestMachineExtension.class)
class StateAndSwapTest {
    static final int SECTORS = 2048;

    @TempDir Path dir;

    Path image(String name, int sectors) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, new byte[sectors * 512]);
        return p;
    }

    @Test
    void writesInFlightAcrossTwoSwapsAreEachDoneOnceAndReachTheImage(TestMachine m) throws IOException {
        Path img = image("disk.img", SECTORS);
        // A small depth keeps most requests waiting in the ring, where each swap finds them.
        DeviceInstance device = m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "A", config(img, "depth", "4"));
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 256);
        DriverQueue q = driver.queue(0);
        Map<Integer, Integer> headToSector = new HashMap<>();
        int sent = 0, done = 0;

        for (String impl : new String[] {"B", "A"}) {
            for (int i = 0; i < 40; i++, sent++)
                headToSector.put(q.add(List.of(header(VIRTIO_BLK_T_OUT, sent), pattern(sent * 512L, 512, 7)), 1), sent);
            q.kick();
            device.swapTo(impl, new VirtioBlockProvider());
            for (int i = 0; i < 10; i++, sent++)
                headToSector.put(q.add(List.of(header(VIRTIO_BLK_T_OUT, sent), pattern(sent * 512L, 512, 7)), 1), sent);
            q.kick();
            while (!headToSector.isEmpty()) {
                DriverQueue.Completion c = q.await(TIMEOUT);
                assertThat(headToSector.remove(c.head())).as("head %d was in flight", c.head()).isNotNull();
                assertThat(c.data()[0]).isEqualTo((byte) VIRTIO_BLK_S_OK);
                done++;
            }
        }

        assertThat(q.poll()).as("nothing completed twice").isNull();
        assertThat(done).isEqualTo(sent);
        assertThat(m.interrupts()).receivesMsi(driver.msiData(1), sent);
        assertThat(Arrays.copyOf(Files.readAllBytes(img), sent * 512)).isEqualTo(pattern(0, sent * 512, 7));
        assertThat(((VirtioBlock) device.model()).requestsCompleted()).as("the count travels with the state").isEqualTo(sent);
        assertThat(device.swapCount()).isEqualTo(2);
        assertThat(driver).isHealthy();
    }

    @Test
    void theCacheModeTheDriverChoseSurvivesASwap(TestMachine m) throws IOException {
        Path img = image("disk.img", SECTORS);
        DeviceInstance device = m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "A", config(img));
        VirtioDriver driver = m.virtio(SLOT).initialize(ALL, 64);
        driver.writeConfig(32, 1, 0);

        device.swapTo("B", new VirtioBlockProvider());

        assertThat(driver.readConfig(32, 1)).isZero();
        assertThat(((VirtioBlock) device.model()).writeback()).isZero();
        DriverQueue q = driver.queue(0);
        q.add(List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1);
        q.kick();
        assertThat(q.await(TIMEOUT).data()[512]).isEqualTo((byte) VIRTIO_BLK_S_OK);
    }

    @Test
    void theStateIsSelfDescribingAndSurvivesEncoding() throws IOException {
        VirtioBlock a = create(config(image("disk.img", SECTORS), "serial", "X1", "wce", "false"));
        DeviceState saved = DeviceState.decode(a.saveState().encode());

        assertThat(saved.type()).isEqualTo(VirtioBlock.STATE_TYPE);
        assertThat(saved.version()).isEqualTo(VirtioBlock.STATE_VERSION);
        assertThat(saved.names()).contains("writeback", "capacity-sectors", "logical-block-size", "serial");

        VirtioBlock b = create(config(dir.resolve("disk.img"), "serial", "X1"));
        b.restoreState(saved);
        assertThat(b.writeback()).isZero();
        a.stop();
        b.stop();
    }

    @Test
    void aSuccessorForADiskOfAnotherShapeRefusesTheState() throws IOException {
        VirtioBlock a = create(config(image("a.img", SECTORS)));
        VirtioBlock smaller = create(config(image("b.img", SECTORS / 2)));
        VirtioBlock bigBlocks = create(config(dir.resolve("a.img"), "sectorsize", "4096"));
        VirtioBlock otherSerial = create(config(dir.resolve("a.img"), "serial", "other"));
        DeviceState s = a.saveState();

        assertThatThrownBy(() -> smaller.restoreState(s)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("capacity-sectors");
        assertThatThrownBy(() -> bigBlocks.restoreState(s)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("logical-block-size");
        assertThatThrownBy(() -> otherSerial.restoreState(s)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("serial");
        assertThatThrownBy(() -> a.restoreState(DeviceState.builder("virtio-rng", 1).build()))
                .isInstanceOf(IncompatibleStateException.class);
        for (VirtioBlock b : List.of(a, smaller, bigBlocks, otherSerial)) b.stop();
    }

    @Test
    void aHostileSavedStateIsRefusedNamingItsField() throws IOException {
        VirtioBlock a = create(config(image("a.img", SECTORS)));
        DeviceState good = a.saveState();
        for (String field : List.of("writeback", "requests-completed")) {
            DeviceState.Builder b = DeviceState.builder(good.type(), good.version());
            for (String n : good.names())
                if (n.equals("serial")) b.put(n, good.getString(n));
                else b.put(n, n.equals(field) ? (field.equals("writeback") ? 7 : -1) : good.getLong(n));
            DeviceState bad = b.build();
            assertThatThrownBy(() -> a.restoreState(bad)).as(field).isInstanceOf(IncompatibleStateException.class)
                    .hasMessageContaining(field);
        }
        assertThat(a.saveState()).as("nothing adopted").isEqualTo(good);
        a.stop();
    }

    @Test
    void aSwapToAnIncompatibleSuccessorLeavesTheOldOneServing(TestMachine m) throws IOException {
        Path img = image("disk.img", SECTORS);
        DeviceInstance device = m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "A", config(img));
        DriverQueue q = m.virtio(SLOT).initialize(ALL, 64).queue(0);
        Path other = image("other.img", 16);

        assertThatThrownBy(() -> device.swapTo("B", ctx -> new VirtioBlockProvider().create(context(config(other)))))
                .isInstanceOf(IncompatibleStateException.class);

        q.add(List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1);
        q.kick();
        assertThat(q.await(TIMEOUT).data()[512]).isEqualTo((byte) VIRTIO_BLK_S_OK);
        assertThat(device.implementation()).isEqualTo("A");
    }

    static VirtioBlock create(Map<String, Object> config) {
        return (VirtioBlock) new VirtioBlockProvider().create(context(config));
    }

    static DeviceContext context(Map<String, Object> config) {
        return new DeviceContext() {
            @Override public String instanceId() { return "test"; }
            @Override public Map<String, Object> configuration() { return config; }
            @Override public GuestMemory memory() { return null; }
        };
    }
}
