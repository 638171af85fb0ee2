package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import vmm.core.irq.MsiMessage;

/** The chip used as a VM uses it: vCPU threads on one side, device threads on the other. */
class EmuIrqChipThreadsTest {
    private static final long GUARD_S = 60; // a hang guard, never a timing assumption

    @Test
    void anMsiFromADeviceThreadWakesAHaltedVcpuThread() throws Exception {
        try (EmuIrqChip chip = new EmuIrqChip(1, new ManualClock())) {
            Semaphore wake = new Semaphore(0);
            VcpuInterrupts cpu = chip.attachVcpu(0, wake::release);
            cpu.mmio().write(LocalApic.SVR, 4, 0x1ff);
            CompletableFuture<Integer> taken = CompletableFuture.supplyAsync(() -> {
                // A halted vCPU: sleep until woken, then look.
                while (!cpu.hasInterrupt()) {
                    try {
                        if (!wake.tryAcquire(GUARD_S, TimeUnit.SECONDS)) return -2;
                    } catch (InterruptedException e) {
                        return -3;
                    }
                }
                return cpu.acknowledge();
            });
            chip.signalMsi(new MsiMessage(0xfee0_0000L, 0x0077));
            assertThat(taken.get(GUARD_S, TimeUnit.SECONDS)).isEqualTo(0x77);
        }
    }

    @Test
    void aLevelLineTogglingOnADeviceThreadWhileTheVcpuServesItEndsWithNothingPending() throws Exception {
        try (EmuIrqChip chip = new EmuIrqChip(1, new ManualClock())) {
            VcpuInterrupts cpu = chip.attachVcpu(0, () -> { });
            cpu.mmio().write(LocalApic.SVR, 4, 0x1ff);
            synchronized (chip.lock()) {
                chip.pic().write(DualPic.MASTER_DATA, 0xff);
                chip.ioapic().write(IoApic.IOREGSEL, 4, 0x10 + 2 * 17);
                chip.ioapic().write(IoApic.IOWIN, 4, IoApic.RTE_LEVEL | 0x51);
            }
            AtomicInteger served = new AtomicInteger();
            CompletableFuture<Void> device = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 20_000; i++) chip.setLevel(17, (i & 1) == 0);
                chip.setLevel(17, false);
            });
            while (!device.isDone() || cpu.hasInterrupt()) {
                if (cpu.hasInterrupt()) {
                    int v = cpu.acknowledge();
                    if (v >= 0) {
                        assertThat(v).isEqualTo(0x51);
                        served.incrementAndGet();
                        cpu.mmio().write(LocalApic.EOI, 4, 0);
                    }
                } else {
                    Thread.onSpinWait();
                }
            }
            device.get(GUARD_S, TimeUnit.SECONDS);
            assertThat(served.get()).isPositive();
            synchronized (chip.lock()) {
                assertThat(chip.ioapic().entry(17) & IoApic.RTE_REMOTE_IRR).isZero();
            }
            assertThat(cpu.mmio().read(LocalApic.ISR + 0x20, 4)).isZero();
            assertThat(cpu.mmio().read(LocalApic.IRR + 0x20, 4)).isZero();
        }
    }
}
