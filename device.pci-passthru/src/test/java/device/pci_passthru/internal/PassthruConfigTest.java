package device.pci_passthru.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;

import device.pci_passthru.internal.kernel.HostPciAddress;
import device.pci_passthru.internal.kernel.VfioHost;
import device.pci_passthru.vfio.VfioException;
import vmm.core.pci.PciAddress;

/** The component's configuration, and what this very host says when asked for a device. */
class PassthruConfigTest {

    @Test
    void hostIsAKernelDeviceInEitherFormOrATransportAndTarget() {
        PassthruConfig k = PassthruConfig.parse(Map.of("service.pid", "device.pci-passthru~s6_0", "address", "0:6.0", "host", "1/0/0"));
        assertThat(k.address()).isEqualTo(PciAddress.slot(6));
        assertThat(k.host()).isEqualTo(new HostPciAddress(0, 1, 0, 0));
        PassthruConfig u = PassthruConfig.parse(Map.of("address", "7", "host", "vfio-user=/run/disk.sock"));
        assertThat(u.transport()).isEqualTo("vfio-user");
        assertThat(u.target()).isEqualTo("/run/disk.sock");
        assertThat(u.host()).isNull();
    }

    @Test
    void eachBadKeyIsNamed() {
        assertThatThrownBy(() -> PassthruConfig.parse(Map.of("host", "1/0/0"))).hasMessageContaining("address is required");
        assertThatThrownBy(() -> PassthruConfig.parse(Map.of("address", "6"))).hasMessageContaining("host is required");
        assertThatThrownBy(() -> PassthruConfig.parse(Map.of("address", "6", "host", "1/0"))).hasMessageContaining("host=1/0");
        assertThatThrownBy(() -> PassthruConfig.parse(Map.of("address", "6", "host", "vfio-user="))).hasMessageContaining("TRANSPORT=TARGET");
        assertThatThrownBy(() -> PassthruConfig.parse(Map.of("address", "zz", "host", "1/0/0"))).hasMessageContaining("address=zz");
    }

    @Test
    void onThisHostWithoutVfioOpeningARealDeviceSaysSoAndHowToBindIt() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.exists(Path.of("/dev/vfio/vfio")), "this host has VFIO");
        Path devices = Path.of("/sys/bus/pci/devices");
        String any;
        try (var s = Files.list(devices)) {
            any = s.map(p -> p.getFileName().toString()).sorted().findFirst().orElse(null);
        } catch (java.io.IOException e) {
            any = null;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(any != null, "no PCI devices visible");
        HostPciAddress a = HostPciAddress.parse(any);
        assertThatThrownBy(() -> VfioHost.linux().open(a)).isInstanceOf(VfioException.class)
                .hasMessageContaining("this host has no VFIO").hasMessageContaining("driver_override");
        assertThatThrownBy(() -> VfioHost.linux().open(new HostPciAddress(0xfffe, 0xff, 31, 7))).isInstanceOf(VfioException.class)
                .hasMessageContaining("does not exist on this host");
    }
}
