package device.pci_passthru.internal;

import static device.pci_passthru.internal.kernel.FakePciDevice.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.core.bus.MmioBus;
import vmm.core.irq.MsiMessage;
import vmm.testing.PciHarness;

/** MSI-X, MSI and INTx of a passed-through function: eventfds from VFIO wired to irqfds and routes. */
class PassthroughInterruptTest {
    private static final int VFIO_MSIX = 2, VFIO_MSI = 1, VFIO_INTX = 0;
    private static final long LAPIC = 0xfee0_0000L;

    /** Assigns resources, programs MSI-X entry {@code v} and returns BAR3's address. */
    private static long programMsix(PassthroughRig r, int v, int data, boolean masked) {
        PciHarness.Function f = r.pci.assign(PassthroughRig.AT);
        long bar3 = f.bar(3).address();
        MmioBus mmio = r.tm.machine().mmio();
        mmio.write(bar3 + 16L * v, 8, LAPIC);
        mmio.write(bar3 + 16L * v + 8, 4, data);
        mmio.write(bar3 + 16L * v + 12, 4, masked ? 1 : 0);
        return bar3;
    }

    @Test
    void aDriverEnablingMsixGetsTheDevicesInterruptAsItsVectorsMessage() {
        try (PassthroughRig r = new PassthroughRig()) {
            programMsix(r, 0, 0x41, false);
            r.write16(MSIX + 2, 0x8000);

            assertThat(r.kernel.irqLog).containsSubsequence("INTX trigger none start 0 count 0", "MSIX trigger start 0 fds [" + fdsOf(r, 5) + "]");
            assertThat(r.kernel.irqType).isEqualTo(VFIO_MSIX);
            assertThat(r.kernel.fire(VFIO_MSIX, 0)).isTrue();
            assertThat(r.vm.delivered).containsExactly(new MsiMessage(LAPIC, 0x41));
            // Vectors the guest left masked have no route and no irqfd.
            assertThat(r.vm.irqfds).hasSize(1);
        }
    }

    private static String fdsOf(PassthroughRig r, int n) {
        StringBuilder b = new StringBuilder();
        int first = r.kernel.triggerFds[0];
        for (int i = 0; i < n; i++) b.append(i == 0 ? "" : ", ").append(first + i);
        return b.toString();
    }

    @Test
    void aMaskedVectorIsPendingInThePbaAndDeliveredOnceWhenUnmasked() {
        try (PassthroughRig r = new PassthroughRig()) {
            long bar3 = programMsix(r, 1, 0x51, true);
            r.write16(MSIX + 2, 0x8000);
            r.kernel.fire(VFIO_MSIX, 1);
            assertThat(r.vm.delivered).isEmpty();
            MmioBus mmio = r.tm.machine().mmio();
            assertThat(mmio.read(bar3 + 0x2000, 8)).isEqualTo(0b10L);

            mmio.write(bar3 + 16 + 12, 4, 0);

            assertThat(r.vm.delivered).containsExactly(new MsiMessage(LAPIC, 0x51));
            assertThat(mmio.read(bar3 + 0x2000, 8)).isZero();
        }
    }

    @Test
    void theFunctionMaskHoldsEveryVectorAndReleasingItDeliversWhatIsPending() {
        try (PassthroughRig r = new PassthroughRig()) {
            programMsix(r, 0, 0x41, false);
            r.write16(MSIX + 2, 0xc000);
            r.kernel.fire(VFIO_MSIX, 0);
            assertThat(r.vm.delivered).isEmpty();
            r.write16(MSIX + 2, 0x8000);
            assertThat(r.vm.delivered).containsExactly(new MsiMessage(LAPIC, 0x41));
        }
    }

    @Test
    void movingAnUnmaskedVectorReroutesItsGsiInPlace() {
        try (PassthroughRig r = new PassthroughRig()) {
            long bar3 = programMsix(r, 0, 0x41, false);
            r.write16(MSIX + 2, 0x8000);
            int gsis = r.vm.allocatedGsis();
            r.tm.machine().mmio().write(bar3 + 8, 4, 0x61);
            r.tm.machine().mmio().write(bar3, 8, 0xfee0_1000L);
            r.kernel.fire(VFIO_MSIX, 0);
            assertThat(r.vm.delivered).containsExactly(new MsiMessage(0xfee0_1000L, 0x61));
            assertThat(r.vm.allocatedGsis()).isEqualTo(gsis);
        }
    }

    @Test
    void theTableReadsBackWhatTheGuestWroteWithOnlyTheMaskBitOfVectorControl() {
        try (PassthroughRig r = new PassthroughRig()) {
            long bar3 = programMsix(r, 4, 0x77, false);
            MmioBus mmio = r.tm.machine().mmio();
            mmio.write(bar3 + 16 * 4 + 12, 4, 0xffff_fffeL);
            assertThat(mmio.read(bar3 + 16 * 4, 8)).isEqualTo(LAPIC);
            assertThat(mmio.read(bar3 + 16 * 4 + 8, 4)).isEqualTo(0x77);
            assertThat(mmio.read(bar3 + 16 * 4 + 12, 4)).isZero();
            assertThat(mmio.read(bar3 + 16 * 3 + 12, 4)).isEqualTo(1); // untouched entries start masked
        }
    }

    @Test
    void accessesPastTheTableOrAcrossItsEdgeNeverTouchAVector() {
        try (PassthroughRig r = new PassthroughRig()) {
            long bar3 = programMsix(r, 4, 0x77, false);
            MmioBus mmio = r.tm.machine().mmio();
            r.write16(MSIX + 2, 0x8000);
            mmio.write(bar3 + 16 * 5, 4, 0xdead); // entry 5 of a 5-entry table: the device's own register there
            mmio.write(bar3 + 16 * 5 - 4, 8, 0L); // straddles the end: dropped
            mmio.write(bar3 + 16 * 4 + 2, 2, 0xffff); // a 2-byte table write: not a table access
            assertThat(mmio.read(bar3 + 16 * 4 + 8, 4)).isEqualTo(0x77);
            assertThat(mmio.read(bar3 + 16 * 4 + 12, 4)).isZero();
            assertThat(r.device.accesses).contains("region 3 write @0x50/4");
            r.kernel.fire(VFIO_MSIX, 4);
            assertThat(r.vm.delivered).containsExactly(new MsiMessage(LAPIC, 0x77));
            assertThat(r.function.broken()).isFalse();
        }
    }

    @Test
    void disablingMsixTurnsItsVectorsOffReleasesTheGsisAndReArmsIntx() {
        try (PassthroughRig r = new PassthroughRig()) {
            programMsix(r, 0, 0x41, false);
            r.write16(MSIX + 2, 0x8000);
            r.write16(MSIX + 2, 0);
            assertThat(r.kernel.irqLog).containsSubsequence("MSIX trigger none start 0 count 0", "INTX trigger start 0 fds [500]");
            assertThat(r.kernel.irqType).isEqualTo(VFIO_INTX);
            assertThat(r.vm.allocatedGsis()).isZero();
            assertThat(r.vm.irqfds).isEmpty();
        }
    }

    @Test
    void msiVectorsFollowMultipleMessageEnableAndCarryTheVectorInTheDataLowBits() {
        try (PassthroughRig r = new PassthroughRig()) {
            assertThat(r.read16(MSI + 2) & 0x0e).isEqualTo(2 << 1); // 4 vectors capable, as the device and VFIO say
            r.write32(MSI + 4, (int) LAPIC);
            r.write32(MSI + 8, 0);
            r.write16(MSI + 12, 0x40);
            r.write16(MSI + 2, 0x0001 | (1 << 4)); // enable, 2 vectors
            assertThat(r.kernel.irqType).isEqualTo(VFIO_MSI);
            assertThat(r.kernel.triggerFds).hasSize(2);
            r.kernel.fire(VFIO_MSI, 1);
            assertThat(r.vm.delivered).containsExactly(new MsiMessage(LAPIC, 0x41));
        }
    }

    @Test
    void anMsiMaskBitHoldsTheInterruptPendingUntilCleared() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.write32(MSI + 4, (int) LAPIC);
            r.write16(MSI + 12, 0x30);
            r.write32(MSI + 16, 1);
            r.write16(MSI + 2, 0x0001);
            r.kernel.fire(VFIO_MSI, 0);
            assertThat(r.vm.delivered).isEmpty();
            assertThat(r.read32(MSI + 20)).isEqualTo(1);
            r.write32(MSI + 16, 0);
            assertThat(r.vm.delivered).containsExactly(new MsiMessage(LAPIC, 0x30));
            assertThat(r.read32(MSI + 20)).isZero();
        }
    }

    @Test
    void msiMultipleMessageEnableBeyondWhatIsCapableIsCutDown() {
        try (PassthroughRig r = new PassthroughRig()) {
            r.write16(MSI + 2, 0x0001 | (5 << 4)); // 32 vectors asked, 4 capable
            assertThat((r.read16(MSI + 2) >> 4) & 7).isEqualTo(2);
            assertThat(r.kernel.triggerFds).hasSize(4);
        }
    }

    @Test
    void intxIsALevelIrqfdThatTheGuestsEndOfInterruptUnmasksThroughTheResampleEventfd() {
        try (PassthroughRig r = new PassthroughRig()) {
            int gsi = 16 + ((5 + 1 - 1) & 3);
            assertThat(r.kernel.irqLog).containsExactly("INTX trigger start 0 fds [500]", "INTX unmask start 0 fds [501]");
            assertThat(r.vm.levelIrqfds).containsKey(gsi);

            assertThat(r.kernel.fire(VFIO_INTX, 0)).isTrue();
            assertThat(r.vm.levels.get(gsi)).isTrue();
            assertThat(r.kernel.fire(VFIO_INTX, 0)).isFalse(); // automasked by VFIO until the guest is done

            r.vm.eoi(gsi);

            assertThat(r.vm.levels.get(gsi)).isFalse();
            assertThat(r.kernel.intxMasked).isFalse();
            assertThat(r.kernel.fire(VFIO_INTX, 0)).isTrue();
        }
    }
}
