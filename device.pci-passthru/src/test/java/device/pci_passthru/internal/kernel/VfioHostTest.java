package device.pci_passthru.internal.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import device.pci_passthru.vfio.SparseArea;
import device.pci_passthru.vfio.VfioDevice;
import device.pci_passthru.vfio.VfioException;
import vmm.core.hypervisor.EventFd;

/** Opening a host device through the kernel's VFIO, and the kernel transport at the ioctl seam. */
class VfioHostTest {
    private final Map<Integer, Runnable> signals = new HashMap<>();

    private FakeVfioKernel kernel() {
        return new FakeVfioKernel(FakePciDevice.standard(), n -> signals.getOrDefault(n, () -> {}));
    }

    @Test
    void aMissingDevVfioSaysTheKernelHasNoVfioAndHowToBindTheDevice() {
        FakeVfioKernel k = kernel();
        k.vfioPresent = false;
        assertThatThrownBy(k::open).isInstanceOf(VfioException.class)
                .hasMessageContaining("no VFIO").hasMessageContaining("modprobe vfio-pci")
                .hasMessageContaining("echo vfio-pci > /sys/bus/pci/devices/0000:03:00.0/driver_override")
                .hasMessageContaining("drivers_probe");
    }

    @Test
    void aDeviceAddressThatDoesNotExistIsNamed() {
        FakeVfioKernel k = kernel();
        assertThatThrownBy(() -> k.host().open(HostPciAddress.parse("0000:04:00.0"))).isInstanceOf(VfioException.class)
                .hasMessage("host PCI device 0000:04:00.0 does not exist on this host (lspci -D lists the devices there are)");
    }

    @Test
    void aDeviceBoundToAnotherDriverIsToldHowToBindItToVfioPci() {
        FakeVfioKernel k = kernel();
        k.boundToVfio = false;
        assertThatThrownBy(k::open).isInstanceOf(VfioException.class)
                .hasMessageContaining("is bound to e1000e, not vfio-pci").hasMessageContaining("driver_override");
    }

    @Test
    void aGroupThatIsNotViableNamesItsDevicesAndTheirDrivers() {
        FakeVfioKernel k = kernel();
        k.groupViable = false;
        assertThatThrownBy(k::open).isInstanceOf(VfioException.class)
                .hasMessageContaining("IOMMU group 7 of 0000:03:00.0 is not viable")
                .hasMessageContaining("0000:03:00.0 (vfio-pci)");
        assertThat(k.openFds()).isZero();
    }

    @Test
    void aGroupOrDeviceInUseIsReportedAsInUseAndNothingStaysOpen() {
        FakeVfioKernel k = kernel();
        k.groupBusy = true;
        assertThatThrownBy(k::open).isInstanceOf(VfioException.class).hasMessageContaining("IOMMU group 7").hasMessageContaining("already in use");
        assertThat(k.openFds()).isZero();
        k.groupBusy = false;
        k.deviceBusy = true;
        assertThatThrownBy(k::open).isInstanceOf(VfioException.class).hasMessageContaining("0000:03:00.0 is already in use");
        assertThat(k.openFds()).isZero();
    }

    @Test
    void anOpenedDeviceReportsItsInfoRegionsWithSparseAreasAndIrqs() {
        FakeVfioKernel k = kernel();
        try (VfioDevice d = k.open()) {
            assertThat(d.name()).isEqualTo("0000:03:00.0");
            assertThat(d.info().isPci()).isTrue();
            assertThat(d.info().canReset()).isTrue();
            assertThat(d.regionInfo(0).size()).isEqualTo(0x20000);
            assertThat(d.regionInfo(0).sparseAreas()).isEmpty();
            assertThat(d.regionInfo(3).sparseAreas()).containsExactly(new SparseArea(0x1000, 0x1000), new SparseArea(0x3000, 0x1000));
            assertThat(d.regionInfo(3).mappable(0, 0x1000)).isFalse();
            assertThat(d.regionInfo(3).mappable(0x1000, 0x1000)).isTrue();
            assertThat(d.regionInfo(1).size()).isZero();
            assertThat(d.irqInfo(VfioDevice.VFIO_PCI_MSIX_IRQ_INDEX).count()).isEqualTo(5);
            assertThat(d.irqInfo(VfioDevice.VFIO_PCI_INTX_IRQ_INDEX).automasked()).isTrue();
            assertThat(d.read(VfioDevice.VFIO_PCI_CONFIG_REGION_INDEX, 0, 4)).isEqualTo(0x10d3_8086L);
        }
        assertThat(k.openFds()).isZero();
    }

    @Test
    void aSparseAreaOutsideItsRegionFromTheKernelIsRefused() {
        FakePciDevice dev = FakePciDevice.standard();
        dev.regions[3].sparse.set(1, new long[] {0x3000, 0x2000});
        FakeVfioKernel k = new FakeVfioKernel(dev, n -> () -> {});
        assertThatThrownBy(k::open).isInstanceOf(VfioException.class).hasMessageContaining("leaves the region");
        assertThat(k.openFds()).isZero();
    }

    @Test
    void accessesOutsideARegionOrToAnUnknownIndexAreRefusedBeforeTheKernel() {
        FakeVfioKernel k = kernel();
        try (VfioDevice d = k.open()) {
            assertThatThrownBy(() -> d.read(2, 30, 4)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> d.write(6, 0, 4, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not writable");
            assertThatThrownBy(() -> d.regionInfo(9)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> d.map(0, 0x800, 0x1000)).isInstanceOf(IllegalArgumentException.class);
            assertThat(d.map(3, 0, 0x1000)).isEmpty(); // the MSI-X table page is not mappable
            assertThat(d.map(3, 0x1000, 0x1000)).isPresent();
        }
    }

    @Test
    void setIrqsCarriesTheEventfdsAndRefusesVectorsBeyondTheCount() {
        FakeVfioKernel k = kernel();
        try (VfioDevice d = k.open()) {
            List<EventFd> fds = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                int n = 40 + i;
                fds.add(new EventFd() {
                    @Override public int fd() { return n; }
                    @Override public void signal() {}
                    @Override public long poll() { return 0; }
                    @Override public void close() {}
                });
            }
            d.setTriggers(VfioDevice.VFIO_PCI_MSIX_IRQ_INDEX, 0, fds);
            d.setTriggers(VfioDevice.VFIO_PCI_MSIX_IRQ_INDEX, 1, java.util.Collections.singletonList(null));
            d.disable(VfioDevice.VFIO_PCI_MSIX_IRQ_INDEX);
            assertThat(k.irqLog).containsExactly("MSIX trigger start 0 fds [40, 41]", "MSIX trigger start 1 fds [-1]", "MSIX trigger none start 0 count 0");
            assertThatThrownBy(() -> d.setTriggers(VfioDevice.VFIO_PCI_MSIX_IRQ_INDEX, 4, fds)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> d.mask(VfioDevice.VFIO_PCI_MSI_IRQ_INDEX, 0, true)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void resetAndDmaMappingReachTheKernelAndAResetTheDeviceCannotDoIsAnError() {
        FakeVfioKernel k = kernel();
        try (VfioDevice d = k.open()) {
            d.reset();
            assertThat(k.resets).isEqualTo(1);
            d.mapDma(new device.pci_passthru.vfio.DmaRegion(0x10_0000, 0x20_0000, 0x7f00_0000_0000L, 5, 0, false));
            assertThat(k.container.dmaMaps.getFirst()).containsExactly(0x7f00_0000_0000L, 0x10_0000L, 0x20_0000L, 1L);
            assertThatThrownBy(() -> d.mapDma(new device.pci_passthru.vfio.DmaRegion(0x10_0000, 0x1000, 0x7f10_0000_0000L, 5, 0, true)))
                    .isInstanceOf(VfioException.class).hasMessageContaining("EEXIST");
            d.unmapDma(0x10_0000, 0x20_0000);
            assertThat(k.container.dmaMaps).isEmpty();
        }
        FakePciDevice noReset = FakePciDevice.standard();
        noReset.canReset = false;
        try (VfioDevice d = new FakeVfioKernel(noReset, n -> () -> {}).open()) {
            assertThatThrownBy(d::reset).isInstanceOf(VfioException.class).hasMessageContaining("no reset method");
        }
    }

    @Test
    void hostAddressesParseInBhyvesAndLinuxsFormsAndNothingElse() {
        assertThat(HostPciAddress.parse("3/0/0")).hasToString("0000:03:00.0");
        assertThat(HostPciAddress.parse("0000:af:1f.7")).isEqualTo(new HostPciAddress(0, 0xaf, 0x1f, 7));
        assertThat(HostPciAddress.parse("01:00.1")).hasToString("0000:01:00.1");
        for (String bad : List.of("", "1/2", "0000:01:00", "0000:01:20.0", "0000:01:00.8", "x/0/0", "00000:01:00.0", "256/0/0", "-1/0/0"))
            assertThatThrownBy(() -> HostPciAddress.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
}
