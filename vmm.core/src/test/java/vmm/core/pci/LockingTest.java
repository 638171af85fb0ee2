package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.pci.PciRegs.*;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;

import vmm.core.Await;
import vmm.core.irq.MsiMessage;

/**
 * A device often hands work to another thread and waits for it; that thread
 * signals interrupts. Neither a BAR access nor a capability access may hold
 * a lock the signal path needs, or such a device deadlocks.
 */
class LockingTest extends PciFixture {
    private static final long BAR_BASE = 0xfe00_0000L;
    private final PciAddress at = PciAddress.slot(3);

    /** Runs {@code signal} on another thread and waits (boundedly) for its answer. */
    private static boolean signalFromWorker(BooleanSupplier signal) {
        try {
            return CompletableFuture.supplyAsync(signal::getAsBoolean).get(Await.BOUND.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("signal from a worker thread did not complete", e);
        }
    }

    @Test
    void barHandlerMayWaitForAWorkerThatSignalsMsiX() {
        AtomicReference<PciFunction> fn = new AtomicReference<>();
        AtomicReference<Boolean> delivered = new AtomicReference<>();
        BarHandler device = new BarHandler() {
            @Override
            public long readBar(int bar, long offset, int size) {
                delivered.set(signalFromWorker(() -> fn.get().signalMsiX(0)));
                return 0;
            }

            @Override
            public void writeBar(int bar, long offset, int size, long value) {
                delivered.set(signalFromWorker(() -> fn.get().signalMsiX(0)));
            }
        };
        fn.set(bus.attach("dev", at, spec().bar(BarSpec.mem32(0, 0x2000)).msix(new MsiXSpec(1, 0, 0x1000, 0, 0x1800))
                .build(), device));
        write32(at, bar(0), (int) BAR_BASE);
        write16(at, PCI_COMMAND, PCI_COMMAND_MEMORY);
        write16(at, findCapability(at, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
        mmio.write(BAR_BASE + 0x1000, 4, 0xfee0_0000L);
        mmio.write(BAR_BASE + 0x1008, 4, 0x33);
        mmio.write(BAR_BASE + 0x100c, 4, 0);

        mmio.read(BAR_BASE, 4);
        assertThat(delivered.get()).isTrue();
        delivered.set(null);
        mmio.write(BAR_BASE, 4, 1);
        assertThat(delivered.get()).isTrue();

        assertThat(irq.msis()).containsExactly(new MsiMessage(0xfee0_0000L, 0x33), new MsiMessage(0xfee0_0000L, 0x33));
    }

    @Test
    void capabilityHandlerMayWaitForAWorkerThatSignalsMsi() {
        AtomicReference<PciFunction> fn = new AtomicReference<>();
        CapabilityHandler live = new CapabilityHandler() {
            @Override
            public int read(int offset, int size, int stored) {
                return signalFromWorker(() -> fn.get().signalMsi(0)) ? 1 : 0;
            }

            @Override
            public int write(int offset, int size, int value, int stored) {
                fn.get().intx().raise();
                return signalFromWorker(() -> fn.get().signalMsi(0)) ? value : stored;
            }
        };
        fn.set(attach(at, spec().interruptPin(1).msi(new MsiSpec(1, true, false))
                .capability(new Capability(0x09, new byte[6], live)).build()));
        int msi = findCapability(at, PCI_CAP_ID_MSI);
        write32(at, msi + PCI_MSI_ADDRESS_LO, 0xfee0_0000);
        write16(at, msi + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE);
        int cap = fn.get().capabilityOffset(0);

        assertThat(read32(at, cap + 4)).isEqualTo(1);
        write32(at, cap + 4, 0x77);

        assertThat(irq.msis()).hasSize(2);
        assertThat(irq.level(19)).as("MSI enabled: INTx not driven").isFalse();
    }

    @Test
    void barsSwappedOneRegisterAtATimeEndUpBothMapped() {
        PciFunction f = attach(at, spec().bar(BarSpec.mem32(0, 0x1000)).bar(BarSpec.mem32(1, 0x1000)).build());
        write32(at, bar(0), 0xc000_0000);
        write32(at, bar(1), 0xc000_1000);
        write16(at, PCI_COMMAND, PCI_COMMAND_MEMORY);

        write32(at, bar(0), 0xc000_1000); // collides with BAR 1 for now
        assertThat(f.barAddress(0)).isEqualTo(-1);
        write32(at, bar(1), 0xc000_0000);

        assertThat(f.barAddress(0)).isEqualTo(0xc000_1000L);
        assertThat(f.barAddress(1)).isEqualTo(0xc000_0000L);
        assertThat(mmio.read(0xc000_1004L, 4)).isEqualTo(RecordingBarHandler.answer(0, 4));
    }
}
