package device.pci_passthru.internal;

import static device.pci_passthru.internal.kernel.FakePciDevice.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import vmm.core.bus.MmioBus;
import vmm.core.memory.RamRegion;
import vmm.testing.PciHarness;

/** BAR decode and mapping, DMA, reset and stop, and what a failing device does to the VM. */
class PassthroughLifecycleTest {

    @Test
    void guestRamIsMappedForDmaByItsHostAddressAtAttachAndUnmappedAtStop() {
        PassthroughRig r = new PassthroughRig();
        RamRegion ram = r.tm.memory().regions().getFirst();
        assertThat(r.kernel.container.dmaMaps).hasSize(1);
        assertThat(r.kernel.container.dmaMaps.getFirst()).containsExactly(ram.segment().address(), ram.guestBase(), ram.size(), 3L);
        r.close();
        assertThat(r.kernel.container.dmaMaps).isEmpty();
    }

    @Test
    void mappableBarPagesBecomeMemorySlotsExceptTheMsixTableAndPbaPages() {
        try (PassthroughRig r = new PassthroughRig()) {
            PciHarness.Function f = r.pci.assign(PassthroughRig.AT);
            long bar0 = f.bar(0).address(), bar3 = f.bar(3).address(), bar4 = f.bar(4).address();
            assertThat(r.vm.slots).containsExactlyInAnyOrder(
                    String.format("0x%x+0x20000", bar0),
                    String.format("0x%x+0x1000", bar3 + 0x1000),
                    String.format("0x%x+0x1000", bar3 + 0x3000),
                    String.format("0x%x+0x10000", bar4));
            // Moving a BAR moves its slots; disabling memory decode removes them.
            r.write32(0x10, (int) (bar0 + 0x100000));
            assertThat(r.vm.slots).contains(String.format("0x%x+0x20000", bar0 + 0x100000)).doesNotContain(String.format("0x%x+0x20000", bar0));
            r.write16(0x04, 0x1);
            assertThat(r.vm.slots).isEmpty();
        }
    }

    @Test
    void trappedBarAccessesGoThroughRegionReadsAndWrites() {
        try (PassthroughRig r = new PassthroughRig()) {
            PciHarness.Function f = r.pci.assign(PassthroughRig.AT);
            r.device.regions[0].backing.set(ValueLayout.JAVA_INT_UNALIGNED, 0x100, 0x1234_5678);
            MmioBus mmio = r.tm.machine().mmio();
            assertThat(mmio.read(f.bar(0).address() + 0x100, 4)).isEqualTo(0x1234_5678L);
            r.tm.machine().ioPorts().write(f.bar(2).address() + 4, 2, 0xbeef);
            assertThat(r.device.regions[2].backing.get(ValueLayout.JAVA_SHORT_UNALIGNED, 4)).isEqualTo((short) 0xbeef);
            assertThat(r.device.accesses).contains("region 2 write @0x4/2");
        }
    }

    @Test
    void aPlatformResetTurnsInterruptsOffResetsTheDeviceAndReturnsTheFunctionToItsAttachState() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.pci.assign(PassthroughRig.AT);
            r.write16(MSIX + 2, 0x8000);
            int resetsBefore = r.kernel.resets;

            r.tm.machine().pci().resetAll();

            assertThat(r.kernel.resets).isEqualTo(resetsBefore + 1);
            assertThat(r.kernel.irqTypeAtReset.getLast()).isEqualTo(-1); // MSI-X was off before the reset
            assertThat(r.read16(0x04)).isZero();
            assertThat(r.read32(0x10)).isZero();
            assertThat(r.read16(MSIX + 2) & 0xc000).isZero();
            assertThat(r.vm.slots).isEmpty();
            assertThat(r.tm.machine().mmio().ranges()).isEmpty();
            assertThat(r.kernel.irqType).isZero(); // INTx armed again
            assertThat(r.vm.allocatedGsis()).isZero();
        }
    }

    @Test
    void aFunctionLevelResetFromTheGuestResetsTheDeviceThroughVfio() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.pci.assign(PassthroughRig.AT);
            int before = r.kernel.resets;
            r.write16(EXP + 8, 0x8000);
            assertThat(r.kernel.resets).isEqualTo(before + 1);
            assertThat(r.read16(0x04)).isZero();
        }
    }

    @Test
    void stoppingResetsTheDeviceAndReleasesSlotsMappingsInterruptsAndTheAddress() {
        PassthroughRig r = new PassthroughRig();
        r.pci.assign(PassthroughRig.AT);
        r.write16(MSIX + 2, 0x8000);
        int before = r.kernel.resets;
        r.function.close();
        r.function.close();
        assertThat(r.kernel.resets).isEqualTo(before + 1);
        assertThat(r.vm.slots).isEmpty();
        assertThat(r.device.munmaps).isEqualTo(r.device.mmaps.size());
        assertThat(r.kernel.irqType).isEqualTo(-1);
        assertThat(r.vm.allocatedGsis()).isZero();
        assertThat(r.vm.levelIrqfds).isEmpty();
        assertThat(r.tm.machine().pci().addresses()).isEmpty();
        assertThat(r.tm.machine().mmio().ranges()).isEmpty();
        r.close();
    }

    @Test
    void aDeviceThatFailsAtRunTimeIsDisabledForTheGuestWhileTheVmmRunsOn() {
        try (PassthroughRig r = new PassthroughRig()) {
            PciHarness.Function f = r.pci.assign(PassthroughRig.AT);
            r.kernel.gone = true;
            MmioBus mmio = r.tm.machine().mmio();
            assertThat(mmio.read(f.bar(0).address(), 4)).isEqualTo(0xffff_ffffL);
            assertThat(r.function.broken()).isTrue();
            assertThat(r.read16(0x00)).isEqualTo(0xffff);
            r.write16(0x04, 0x7); // no exception reaches the vCPU
            r.tm.machine().pci().resetAll();
        }
    }

    @Test
    void aBarPlacedOverGuestRamOrAnotherDeviceStaysTrappedOrUndecodedWithoutHarm() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.tm.machine().mmio().register("other", 0xe000_0000L, 0x1000, new vmm.core.bus.IoHandler() {
                @Override public long read(long offset, int size) { return 0x5a; }
                @Override public void write(long offset, int size, long value) {}
            });
            r.write32(0x10, 0x0010_0000); // BAR0 over guest RAM at 1 MiB: no slot over RAM
            r.write32(0x20, 0xe000_0000); // BAR4 over the other device: not decoded
            r.write32(0x24, 0);
            r.write32(0x20 + 4, 0);
            r.write16(0x04, 0x2);
            assertThat(r.vm.slots).noneMatch(s -> s.startsWith("0x100000+"));
            assertThat(r.tm.machine().mmio().read(0xe000_0000L, 4)).isEqualTo(0x5a);
            r.write32(0x20, 0xfff0_0000);
            r.write32(0x24, 0xffff_ffff); // 64-bit BAR at the very top: past what a guest can address
            assertThat(r.function.broken()).isFalse();
        }
    }
}
