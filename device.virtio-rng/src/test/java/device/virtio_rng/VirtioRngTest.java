package device.virtio_rng;

import static vmm.testing.VmmAssertions.assertThat;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

@ExtendWith(TestMachineExtension.class)
class VirtioRngTest {
    private static final PciAddress SLOT = PciAddress.slot(3);
    private static final Duration WAIT = HangGuard.BOUND; // a hang guard: each wait returns once the state is there

    @Test
    void fillsTheDriversBufferWithEntropyAndInterrupts(TestMachine m) {
        m.plug("virtio-rng", SLOT, new VirtioRngProvider());
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 64);

        int head = driver.queue(0).add(List.of(), 32);
        driver.queue(0).kick();

        DriverQueue.Completion c = driver.queue(0).await(WAIT);
        assertThat(c).hasHead(head).hasLength(32);
        assertThat(c.data()).isNotEqualTo(new byte[32]);
        assertThat(m.interrupts()).receivesMsi(driver.msiData(1), 1);
        assertThat(driver).isHealthy();
    }

    @Test
    void identifiesAsAModernEntropyDevice(TestMachine m) {
        m.plug("virtio-rng", SLOT, new VirtioRngProvider());
        VirtioDriver driver = m.virtio(SLOT);

        assertThat(driver.function().vendorId()).isEqualTo(0x1af4);
        assertThat(driver.function().deviceId()).isEqualTo(0x1040 + VirtioRng.VIRTIO_ID_ENTROPY);
        assertThat(driver.deviceFeatures() & VirtioFeatures.bit(VirtioFeatures.VERSION_1)).isNotZero();
        assertThat(driver.numQueues()).isEqualTo(1);
    }

    @Test
    void successiveRequestsGetDifferentBytes(TestMachine m) {
        m.plug("virtio-rng", SLOT, new VirtioRngProvider());
        DriverQueue q = m.virtio(SLOT).initialize(0, 64).queue(0);
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 8; i++) {
            q.add(List.of(), 16);
            q.kick();
            seen.add(java.util.HexFormat.of().formatHex(q.await(WAIT).data()));
        }
        assertThat(seen).hasSize(8);
    }

    @Test
    void capsOneRequestAtTheConfiguredSize(TestMachine m) {
        m.plug("virtio-rng", SLOT, new VirtioRngProvider(), "virtio-rng", Map.of("max-bytes-per-request", "100"));
        DriverQueue q = m.virtio(SLOT).initialize(0, 64).queue(0);

        q.add(List.of(), 4096);
        q.kick();

        assertThat(q.await(WAIT)).hasLength(100);
    }

    @Test
    void servesIndirectChainsSpreadOverSeveralBuffers(TestMachine m) {
        m.plug("virtio-rng", SLOT, new VirtioRngProvider());
        DriverQueue q = m.virtio(SLOT).initialize(VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC), 64).queue(0);

        q.addIndirect(List.of(), 8, 8, 8);
        q.kick();

        assertThat(q.await(WAIT)).hasLength(24);
    }

    @Test
    void refusesAConfigurationThatIsNotANumber(TestMachine m) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() ->
                        m.plug("virtio-rng", SLOT, new VirtioRngProvider(), "virtio-rng", Map.of("max-bytes-per-request", "lots")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max-bytes-per-request=lots");
    }

    @Test
    void aHostileSavedStateIsRefusedNamingItsFieldAndTheCountIsKept(TestMachine m) {
        DeviceInstance d = m.plug("virtio-rng", SLOT, new VirtioRngProvider());
        VirtioRng rng = (VirtioRng) d.model();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> rng.restoreState(
                        vmm.core.device.DeviceState.builder(VirtioRng.STATE_TYPE, 1).put("bytes-served", -5).build()))
                .isInstanceOf(vmm.core.device.IncompatibleStateException.class).hasMessageContaining("bytes-served -5");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> rng.restoreState(
                        vmm.core.device.DeviceState.builder(VirtioRng.STATE_TYPE, 1).put("bytes-served", "many").build()))
                .isInstanceOf(vmm.core.device.IncompatibleStateException.class).hasMessageContaining("'bytes-served'");
        assertThat(rng.bytesServed()).isZero();
    }

    @Test
    void keepsServingAcrossASwapToAFreshInstanceAndCarriesItsCounter(TestMachine m) {
        DeviceInstance d = m.plug("virtio-rng", SLOT, new VirtioRngProvider());
        DriverQueue q = m.virtio(SLOT).initialize(0, 64).queue(0);
        q.add(List.of(), 10);
        q.kick();
        q.await(WAIT);

        d.swapTo("virtio-rng-2", new VirtioRngProvider());
        q.add(List.of(), 10);
        q.kick();

        assertThat(q.await(WAIT)).hasLength(10);
        assertThat(((VirtioRng) d.model()).bytesServed()).isEqualTo(20);
    }
}
