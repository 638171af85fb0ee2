package device.virtio_net;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_net.backend.NetBackend;
import device.virtio_net.backend.Waker;
import device.virtio_net.protocol.NetCounters.Counter;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.Frames;

/** A back end that fails or has nobody at the other end costs frames, counted, never the device. */
@ExtendWith(TestMachineExtension.class)
class BackendFailureTest {
    @TempDir
    Path dir;

    @Test
    void aBackEndThatFailsEverySendCountsTheFramesAndTheGuestKeepsItsBuffers(TestMachine m) throws Exception {
        NetBackend failing = mock(NetBackend.class);
        when(failing.send(anyInt(), any(MemorySegment.class), any(MemorySegment[].class))).thenThrow(new IOException("TAP deleted"));
        when(failing.await(anyInt(), anyBoolean(), any(Waker.class), anyLong())).thenAnswer(i -> {
            Thread.sleep(1);
            return false;
        });
        when(failing.describe()).thenReturn("failing");
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> failing), "virtio-net", VirtioNetTest.CONFIG);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        for (int i = 0; i < 3; i++) tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, i, 60))));
        tx.kick();
        for (int i = 0; i < 3; i++) tx.await(VirtioNetTest.TIMEOUT);
        assertThat(VirtioNetTest.model(dev).counters().get(Counter.TX_BACKEND_ERRORS)).isEqualTo(3);
        assertThat(d).isHealthy();
    }

    @Test
    void aDatagramLinkWithNoPeerDropsWhatIsSentAndCountsIt(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider(), "virtio-net",
                Map.of("dgram", dir.resolve("a.sock").toString(), "peer", dir.resolve("nobody.sock").toString()));
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        d.queue(1).add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 1, 60))));
        d.queue(1).kick();
        d.queue(1).await(VirtioNetTest.TIMEOUT);
        assertThat(VirtioNetTest.model(dev).counters().get(Counter.TX_BACKEND_ERRORS)).isEqualTo(1);
        assertThat(d).isHealthy();
    }
}
