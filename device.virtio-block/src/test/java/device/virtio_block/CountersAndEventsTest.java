package device.virtio_block;

import static device.virtio_block.Requests.header;
import static device.virtio_block.VirtioBlockTest.ALL;
import static device.virtio_block.VirtioBlockTest.TIMEOUT;
import static device.virtio_block.VirtioBlockTest.config;
import static device.virtio_block.protocol.VirtioBlk.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.device.DeviceCounters;
import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/**
 * The core counts every request an instance completes (and the bytes the
 * device wrote); virtio-blk reports its IOERR/UNSUPP completions as errors;
 * a Flight Recorder recording holds one vmm.VirtioRequest event per request.
 */
@ExtendWith(TestMachineExtension.class)
class CountersAndEventsTest {
    static final PciAddress SLOT = PciAddress.slot(4);

    @TempDir Path dir;

    private int request(VirtioDriver d, List<byte[]> out, int... in) {
        d.queue(0).add(out, in);
        d.queue(0).kick();
        var c = d.queue(0).await(TIMEOUT);
        return c.data()[c.length() - 1];
    }

    @Test
    void countersMoveAsRequestsCompleteAndErrorsAreCounted(TestMachine m) throws Exception {
        Path img = Files.write(dir.resolve("disk.img"), new byte[64 * 512]);
        DeviceInstance disk = m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", config(img));
        VirtioDriver d = m.virtio(SLOT).initialize(ALL, 256);
        DeviceCounters counters = disk.counters();
        assertThat(counters.instanceId()).isEqualTo(disk.id());
        assertThat(counters.requests()).isZero();

        assertThat(request(d, List.of(header(VIRTIO_BLK_T_IN, 0)), 1024, 1)).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(counters.requests()).isEqualTo(1);
        assertThat(counters.bytes()).isEqualTo(1025);
        assertThat(counters.errors()).isZero();

        assertThat(request(d, List.of(header(0x7777, 0)), 1)).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(request(d, List.of(header(VIRTIO_BLK_T_IN, 1L << 40)), 512, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(counters.requests()).isEqualTo(3);
        assertThat(counters.bytes()).isEqualTo(1025 + 1 + 513);
        assertThat(counters.errors()).isEqualTo(2);
    }

    @Test
    void aFlightRecordingHoldsOneVirtioRequestEventPerRequest(TestMachine m) throws Exception {
        Path img = Files.write(dir.resolve("disk.img"), new byte[64 * 512]);
        DeviceInstance disk = m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", config(img));
        VirtioDriver d = m.virtio(SLOT).initialize(ALL, 256);
        Path jfr = dir.resolve("rec.jfr");
        try (Recording r = new Recording()) {
            r.enable("vmm.VirtioRequest");
            r.start();
            request(d, List.of(header(VIRTIO_BLK_T_IN, 0)), 2048, 1);
            request(d, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
            r.stop();
            r.dump(jfr);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(jfr).stream()
                .filter(e -> e.getEventType().getName().equals("vmm.VirtioRequest")).toList();
        assertThat(events).hasSize(2);
        assertThat(events).allSatisfy(e -> {
            assertThat(e.getString("device")).isEqualTo(disk.id());
            assertThat(e.getInt("queue")).isZero();
            assertThat(e.getDuration().isNegative()).isFalse();
        });
        assertThat(events).anySatisfy(e -> {
            assertThat(e.getLong("bytesWritten")).isEqualTo(2049);
            assertThat(e.getLong("bytesRead")).isEqualTo(16);
        });
        assertThat(events).anySatisfy(e -> {
            assertThat(e.getLong("bytesWritten")).isEqualTo(1);
            assertThat(e.getLong("bytesRead")).isEqualTo(16 + 512);
        });
    }
}
