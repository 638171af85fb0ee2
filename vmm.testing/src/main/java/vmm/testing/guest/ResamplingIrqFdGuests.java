package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.testing.HangGuard;

/**
 * A resampling irqfd (what passthrough gives a device's INTx): a signal raises a
 * level-triggered IOAPIC input, the guest's EOI lowers it and signals the resample
 * eventfd, so the source can fire again.
 */
public interface ResamplingIrqFdGuests extends GuestBackEnd {
    long IDT = 0x600, CODE = 0x1000;
    long LAPIC = 0xFEE0_0000L, IOAPIC = 0xFEC0_0000L;
    int GSI = 21, VECTOR = 0x44, READY = 0xE0, VECTOR_PORT = 0xE1;

    @Test
    default void eachSignalInterruptsOnceAndTheEoiSignalsTheResampleEventFd() throws Exception {
        try (GuestVm t = vm(true); EventFd trigger = t.vm.createEventFd();
             EventFd resample = t.vm.createEventFd()) {
            Ports ready = new Ports(), vectors = new Ports();
            t.ports.register("ready", READY, 1, ready);
            t.ports.register("vector", VECTOR_PORT, 1, vectors);
            Asm a = Asm.protected32(CODE)
                    .movMem32Imm(LAPIC + 0xF0, 0x1FF)              // LAPIC SVR: software-enable
                    .movMem32Imm(LAPIC + 0x350, 0x10000)           // LVT0 masked
                    .movMem32Imm(IOAPIC, 0x10 + 2 * GSI)           // redirection entry GSI, low word
                    .movMem32Imm(IOAPIC + 0x10, VECTOR | 1 << 15)  // fixed, level, active high, unmasked
                    .movMem32Imm(IOAPIC, 0x10 + 2 * GSI + 1)
                    .movMem32Imm(IOAPIC + 0x10, 0)                 // destination APIC ID 0
                    .sti()
                    .movAl(1).outImmAl(READY)
                    .label("idle").hlt().jmp("idle")
                    .label("handler")
                    .movAl(VECTOR).outImmAl(VECTOR_PORT)           // report, then EOI (broadcast to the IOAPIC)
                    .movMem32Imm(LAPIC + 0xB0, 0)
                    .sti().jmp("idle");
            t.load(CODE, a.bytes());
            t.interruptGate(IDT, VECTOR, a.address("handler"));
            t.protectedMode(t.vcpu(), CODE, IDT, 256);
            try (Binding b = t.vm.bindIrqFd(trigger, resample, GSI)) {
                t.start();
                assertThat(ready.next()).isEqualTo(1);
                for (int i = 0; i < 2; i++) {
                    trigger.signal();
                    assertThat(vectors.next()).isEqualTo(VECTOR);
                    awaitSignal(resample);
                }
                assertThat(vectors.pending()).as("the line was lowered at the EOI: no second interrupt").isZero();
                t.runner().stop();
            }
        }
    }

    @Test
    default void aResamplingIrqfdNeedsAnIoapicInput() throws Exception {
        try (GuestVm t = vm(true); EventFd trigger = t.vm.createEventFd();
             EventFd resample = t.vm.createEventFd()) {
            assertThatThrownBy(() -> t.vm.bindIrqFd(trigger, resample, 24)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("IOAPIC input");
        }
    }

    /** Waits (bounded) until {@code fd} was signalled, and takes the signal. */
    private static void awaitSignal(EventFd fd) throws InterruptedException {
        long deadline = System.nanoTime() + HangGuard.BOUND.toNanos();
        while (fd.poll() == 0) {
            if (System.nanoTime() > deadline) throw new AssertionError("the resample eventfd was not signalled");
            Thread.sleep(1);
        }
    }
}
