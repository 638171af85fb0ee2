package device.pci_passthru.internal;

import static device.pci_passthru.internal.kernel.FakePciDevice.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.testing.PciHarness;

/** The guest's view of the configuration space of a passed-through function. */
class PassthroughConfigSpaceTest {

    @Test
    void identityComesFromTheDeviceAndTheHeaderTypeIsASingleFunction() {
        try (PassthroughRig r = new PassthroughRig()) {
            assertThat(r.read16(0x00)).isEqualTo(0x8086);
            assertThat(r.read16(0x02)).isEqualTo(0x10d3);
            assertThat(r.read32(0x08) >>> 8).isEqualTo(0x020000);
            assertThat(r.read16(0x2e)).isEqualTo(0xa01f);
            assertThat(r.read8(0x0e)).isZero(); // the host's multi-function bit is not ours: we pass one function
            assertThat(r.read8(0x3d)).isEqualTo(1);
            assertThat(r.read8(0x3c)).isZero(); // the host's interrupt line is not shown
            assertThat(r.pci.enumerate()).contains(PassthroughRig.AT);
        }
    }

    @Test
    void barsAreSizedFromTheVfioRegionsAndKeepTheDevicesTypeBits() {
        try (PassthroughRig r = new PassthroughRig()) {
            PciHarness.Function f = r.pci.assign(PassthroughRig.AT);
            assertThat(f.bar(0).size()).isEqualTo(0x20000);
            assertThat(f.bar(0).kind()).isEqualTo(vmm.core.pci.BarKind.MEMORY32);
            assertThat(f.bar(2).size()).isEqualTo(32);
            assertThat(f.bar(2).kind()).isEqualTo(vmm.core.pci.BarKind.IO);
            assertThat(f.bar(3).size()).isEqualTo(0x4000);
            assertThat(f.bar(4).size()).isEqualTo(0x10000);
            assertThat(f.bar(4).kind()).isEqualTo(vmm.core.pci.BarKind.MEMORY64);
            assertThat(f.bar(4).prefetchable()).isTrue();
            assertThat(f.romSize()).isEqualTo(0x10000);
            // Sizing never reached the device's own BARs (vfio-pci's, virtualized anyway).
            assertThat(r.device.accesses).noneMatch(a -> a.matches("config write @0x(1|2)[0-9a-f]/.*"));
        }
    }

    @Test
    void commandRegisterKeepsOnlyDefinedBitsAndReachesTheDevice() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.write16(0x04, 0xffff);
            assertThat(r.read16(0x04)).isEqualTo(0x0547);
            assertThat(r.device.config16(0x04) & 0x0547).isEqualTo(0x0547);
            r.write16(0x04, 0x0004);
            assertThat(r.read16(0x04)).isEqualTo(0x0004);
            assertThat(r.device.config16(0x04) & 0x7).isEqualTo(0x4);
        }
    }

    @Test
    void statusIsLiveWithTheCapabilityBitOursAndItsErrorBitsWriteOneToClear() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.device.config[0x07] = (byte) 0x20; // the device signals a master abort (bit 13)
            assertThat(r.read16(0x06)).isEqualTo(0x2010);
            r.write16(0x06, 0x2000);
            assertThat(r.read16(0x06)).isEqualTo(0x0010);
            r.device.config[0x06] = 0; // the device would clear its capability bit: the guest still sees the list
            assertThat(r.read16(0x06) & 0x10).isEqualTo(0x10);
        }
    }

    @Test
    void capabilityListKeepsPmMsiVendorMsixAndExpressAndSkipsTheHiddenVpd() {
        try (PassthroughRig r = new PassthroughRig()) {
            assertThat(r.pci.capabilities(PassthroughRig.AT)).extracting(PciHarness.Cap::id, PciHarness.Cap::offset)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(0x01, PM), org.assertj.core.groups.Tuple.tuple(0x05, MSI),
                            org.assertj.core.groups.Tuple.tuple(0x09, VNDR), org.assertj.core.groups.Tuple.tuple(0x11, MSIX),
                            org.assertj.core.groups.Tuple.tuple(0x10, EXP));
            assertThat(r.read8(MSI + 1)).isEqualTo(VNDR); // relinked past VPD
            assertThat(r.read32(0x100)).isZero(); // no extended capabilities
            assertThat(r.read8(0xe0)).isEqualTo(0x42); // device-specific registers read through
        }
    }

    @Test
    void romBarDecodesOnlyWithItsEnableBitAndMemoryDecodeAndReadsTheRomRegion() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.device.regions[6].backing.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0, 0xaa55_1234);
            r.pci.assign(PassthroughRig.AT);
            long rom = Integer.toUnsignedLong(r.read32(0x30)) & ~0x7ffL;
            assertThat(r.tm.machine().mmio().isClaimed(rom)).isFalse();
            r.pci.enableRom(PassthroughRig.AT);
            assertThat(r.tm.machine().mmio().read(rom, 4)).isEqualTo(0xaa55_1234L);
            r.tm.machine().mmio().write(rom, 4, 0);
            assertThat(r.tm.machine().mmio().read(rom, 4)).isEqualTo(0xaa55_1234L);
            r.write16(0x04, 0);
            assertThat(r.tm.machine().mmio().isClaimed(rom)).isFalse();
        }
    }

    @Test
    void aVendorSpecificCapabilitysBodyIsTheDevicesToReadAndWrite() {
        try (PassthroughRig r = new PassthroughRig()) {
            assertThat(r.read8(VNDR + 3)).isEqualTo(0x5a);
            r.write32(VNDR + 4, 0x1234_5678);
            assertThat(r.device.config[VNDR + 4]).isEqualTo((byte) 0x78);
            assertThat(r.read32(VNDR + 4)).isEqualTo(0x1234_5678);
            r.write8(VNDR + 1, 0); // its next pointer is ours
            assertThat(r.read8(VNDR + 1)).isEqualTo(MSIX);
        }
    }

    @Test
    void writesToReadOnlyFieldsAreRefused() {
        try (PassthroughRig r = new PassthroughRig()) {
            int before = r.device.accesses.size();
            r.write32(0x00, 0x1234_5678);      // IDs
            r.write32(0x08, 0);                // class and revision
            r.write8(0x0e, 0x80);              // header type
            r.write8(0x0f, 0x40);              // BIST start
            r.write32(0x2c, 0);                // subsystem
            r.write8(0x34, VPD);               // capability pointer: the hidden one
            r.write8(0x3d, 4);                 // interrupt pin
            r.write32(MSIX + 4, 0x0000_1000);  // MSI-X table offset
            r.write8(0xe0, 0);                 // device-specific register outside the kept capabilities
            r.write16(EXP + 0x10, 0xffff);     // link control
            assertThat(r.read16(0x00)).isEqualTo(0x8086);
            assertThat(r.read8(0x34)).isEqualTo(PM);
            assertThat(r.read8(0x3d)).isEqualTo(1);
            assertThat(r.read32(MSIX + 4)).isEqualTo(3);
            assertThat(r.read8(0x0f)).isZero();
            assertThat(r.device.accesses).hasSize(before); // none of them reached the device
        }
    }

    @Test
    void bitsBeyondABarsSizeAndTheUpperHalfOfA64BitBarFollowItsSize() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.write32(0x10, 0xffff_ffff);
            assertThat(r.read32(0x10)).isEqualTo(0xfffe_0000);
            r.write32(0x24, 0xffff_ffff);
            assertThat(r.read32(0x24)).isEqualTo(0xffff_ffff);
            r.write32(0x14, 0xffff_ffff); // BAR1: no BAR there
            assertThat(r.read32(0x14)).isZero();
            r.write32(0x18, 0xffff_ffff);
            assertThat(r.read32(0x18)).isEqualTo(0xffff_ffe1);
        }
    }

    @Test
    void powerStateIsVirtualSoTheGuestCannotPutTheHostDeviceToSleep() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.write16(PM + 4, 3);
            assertThat(r.read16(PM + 4) & 3).isEqualTo(3);
            assertThat(r.device.config16(PM + 4) & 3).isZero();
            r.write16(PM + 4, 0);
            assertThat(r.read16(PM + 4) & 3).isZero();
        }
    }

    @Test
    void expressDeviceControlPassesOnlyErrorReportingRelaxedOrderingAndNoSnoop() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.write16(EXP + 8, 0x70ff); // also max payload (7:5) and max read request (14:12): refused; no snoop (11) cleared
            assertThat(r.device.config16(EXP + 8)).isEqualTo(0x2000 | 0x001f);
            assertThat(r.read16(EXP + 8)).isEqualTo(r.device.config16(EXP + 8));
        }
    }
}
