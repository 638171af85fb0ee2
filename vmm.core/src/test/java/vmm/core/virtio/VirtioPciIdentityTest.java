package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.PciTestbed.*;
import static vmm.core.virtio.VirtioPciTransport.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vmm.core.device.SwapGate;
import vmm.core.pci.PciAddress;

/** What a guest's PCI enumeration sees of a virtio-pci function (4.1.2, 4.1.4). */
class VirtioPciIdentityTest {
    private final PciTestbed t = new PciTestbed();

    @AfterEach
    void close() {
        t.close();
    }

    @Test
    void aModernDeviceHasTheModernIdsAndRevisionOne() {
        t.plug(3, new TestDevice(4, 1, 64, 0, 0, 'r'));

        assertThat(t.cfg(3, 0, 2)).isEqualTo(0x1af4);
        assertThat(t.cfg(3, 2, 2)).isEqualTo(0x1044);
        assertThat(t.cfg(3, REVISION, 1)).isEqualTo(1);
        assertThat(t.cfg(3, SUBSYSTEM_VENDOR, 2)).isEqualTo(0x1af4);
        assertThat(t.cfg(3, SUBSYSTEM_ID, 2)).isEqualTo(4);
        assertThat(t.cfg(3, INTERRUPT_PIN, 1)).as("INTA#").isEqualTo(1);
    }

    @ParameterizedTest
    @CsvSource({"1, 0x1000, 0x020000", "2, 0x1001, 0x018000", "3, 0x1003, 0x078000", "4, 0x1005, 0xff0000"})
    void aTransitionalDeviceHasItsLegacyDeviceIdAndRevisionZero(int type, String pciId, String classCode) {
        t.plug(3, new TestDevice(type, 1, 64, 0, 8, 'x'), true, new SwapGate());

        assertThat(t.cfg(3, 2, 2)).isEqualTo(Integer.decode(pciId));
        assertThat(t.cfg(3, REVISION, 1)).isZero();
        assertThat(t.cfg(3, SUBSYSTEM_ID, 2)).as("subsystem ID is the virtio device ID").isEqualTo(type);
        assertThat(t.cfg(3, REVISION, 4) >>> 8).isEqualTo(Integer.decode(classCode));
        assertThat(t.cfg(3, BAR0, 4) & 1).as("BAR0 is an I/O BAR").isEqualTo(1);
    }

    @ParameterizedTest
    @CsvSource({"1, 0x020000", "2, 0x018000", "3, 0x078000", "9, 0xff0000"})
    void theClassCodeFollowsTheDeviceType(int type, String classCode) {
        t.plug(3, new TestDevice(type, 1, 64, 0, 8, 'x'));

        assertThat(t.cfg(3, REVISION, 4) >>> 8).isEqualTo(Integer.decode(classCode));
    }

    @Test
    void aLegacyBarIsRefusedForATypeWithoutATransitionalId() {
        assertThatThrownBy(() -> t.plug(3, new TestDevice(9, 1, 64, 0, 8, 'x'), true, new SwapGate()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no transitional PCI device ID");
        assertThat(t.bus.function(PciAddress.slot(3))).as("nothing was attached").isNull();
    }

    @Test
    void theBarsAreAnMsixBarAndA64BitPrefetchableBarAndNoIoBarForAModernDevice() {
        t.plug(3, TestDevice.simple('a'));

        assertThat(t.cfg(3, BAR0, 4)).as("no BAR0").isZero();
        t.cfg(3, BAR0 + 4, 4, -1);
        assertThat(t.cfg(3, BAR0 + 4, 4)).as("BAR1: 4 KiB, 32-bit memory").isEqualTo(0xfffff000);
        t.cfg(3, BAR0 + 16, 4, -1);
        t.cfg(3, BAR0 + 20, 4, -1);
        assertThat(t.cfg(3, BAR0 + 16, 4)).as("BAR4: 16 KiB, 64-bit, prefetchable").isEqualTo(0xffffc000 | 0b1100);
        assertThat(t.cfg(3, BAR0 + 20, 4)).isEqualTo(-1);
    }

    @Test
    void theCapabilitiesDescribeEveryVirtioStructure() {
        t.plug(3, new TestDevice(63, 3, 64, 0, 12, 'a'));
        PciTestbed.Driver d = t.driver(3);

        assertThat(d.msixCap).as("MSI-X comes first").isEqualTo(0x40);
        assertThat(d.vendorCaps).extracting(c -> c[1]).containsExactly(VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG,
                VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_PCI_CFG);
        // {offset, type, bar, offset in BAR, length, cap_len}
        assertThat(d.vendorCaps.get(0)).endsWith(VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0000, 56, 16);
        assertThat(d.vendorCaps.get(1)).endsWith(VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 12, 20);
        assertThat(d.vendorCaps.get(2)).endsWith(VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 1, 16);
        assertThat(d.vendorCaps.get(3)).endsWith(VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 12, 16);
        assertThat(d.vendorCaps.get(4)).endsWith(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 20);
        assertThat(d.notifyMultiplier).isEqualTo(4);
    }

    @Test
    void theMsixTableHasOneVectorPerQueuePlusOneForConfigInBarOne() {
        t.plug(3, new TestDevice(63, 3, 64, 0, 12, 'a'));
        PciTestbed.Driver d = t.driver(3);

        assertThat(t.cfg(3, d.msixCap + 2, 2) & 0x7ff).as("table size - 1").isEqualTo(3);
        assertThat(t.cfg(3, d.msixCap + 4, 4)).as("table in BAR1 at 0").isEqualTo(1);
        assertThat(t.cfg(3, d.msixCap + 8, 4)).as("PBA in BAR1 at 0x800").isEqualTo(0x800 | 1);
    }

    @Test
    void anExplicitVectorCountSizesTheTable() {
        new VirtioPciTransport(t.bus, PciAddress.slot(3), t.memory, TestDevice.simple('a'),
                new VirtioPciTransport.Options("x", false, 7), new SwapGate());

        assertThat(t.cfg(3, t.driver(3).msixCap + 2, 2) & 0x7ff).isEqualTo(6);
    }

    @Test
    void aDeviceWithoutConfigSpaceHasNoDeviceConfigCapability() {
        t.plug(3, new TestDevice(4, 1, 64, 0, 0, 'r'));

        assertThat(t.driver(3).vendorCaps).extracting(c -> c[1]).doesNotContain(VIRTIO_PCI_CAP_DEVICE_CFG);
    }

    @Test
    void shapesTheTransportCannotCarryAreRefused() {
        assertThatThrownBy(() -> t.plug(3, new TestDevice(63, 0, 64, 0, 0, 'x'))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> t.plug(3, new TestDevice(63, 1, 48, 0, 0, 'x'))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a power of two");
        assertThatThrownBy(() -> t.plug(3, new TestDevice(63, 1, 64, 0, 5000, 'x'))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> t.plug(3, new TestDevice(63, 200, 64, 0, 0, 'x'))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MSI-X vectors");
        assertThatThrownBy(() -> new VirtioPciTransport.Options("x", false, 129)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void detachRemovesTheFunction() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('a'));

        tr.detach();

        assertThat(t.cfg(3, 0, 2)).isEqualTo(0xffff);
        assertThat(tr.function()).isNotNull();
    }
}
