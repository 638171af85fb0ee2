package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.irq.MsiMessage;

/**
 * Interrupts delivered by the back end's IOAPIC, LAPIC and PIT to a protected-mode
 * guest whose IDT handlers report the vector on a port.
 */
public interface InterruptGuests extends GuestBackEnd {
    long IDT = 0x600, CODE = 0x1000;
    long LAPIC = 0xFEE0_0000L, IOAPIC = 0xFEC0_0000L;
    int GSI = 20; // an IOAPIC-only input: no PIC behind it
    int VECTOR_IOAPIC = 0x40, VECTOR_MSI = 0x41, VECTOR_IRQFD = 0x42;
    int READY = 0xE0, VECTOR_PORT = 0xE1;

    /**
     * Sets up the LAPIC and IOAPIC, enables interrupts, says ready on {@code ready}, and halts; each handler reports
     * its vector on the port returned.
     */
    private static Ports loadGuest(GuestVm t, Ports ready) {
        Ports vectors = new Ports();
        t.ports.register("ready", READY, 1, ready);
        t.ports.register("vector", VECTOR_PORT, 1, vectors);
        Asm a = Asm.protected32(CODE)
                .movMem32Imm(LAPIC + 0xF0, 0x1FF)            // LAPIC SVR: software-enable, spurious vector 0xFF
                .movMem32Imm(LAPIC + 0x350, 0x10000)         // LVT0 masked: nothing from the PIC
                .movMem32Imm(IOAPIC, 0x10 + 2 * GSI)         // IOREGSEL = redirection entry GSI, low word
                .movMem32Imm(IOAPIC + 0x10, VECTOR_IOAPIC)   // IOWIN: fixed, edge, active high, unmasked
                .movMem32Imm(IOAPIC, 0x10 + 2 * GSI + 1)     // high word
                .movMem32Imm(IOAPIC + 0x10, 0)               // destination APIC ID 0
                .sti()
                .movAl(1).outImmAl(READY)                    // out READY, al
                .label("idle").hlt().jmp("idle");            // idle: hlt; jmp idle
        // No IRET: on hosts whose KVM emulates guest code (the development machines), its
        // instruction emulator handles IRET in real mode only. Each handler goes back to
        // the idle loop with interrupts on instead, leaving 12 bytes on the stack.
        for (int vector : new int[] {VECTOR_IOAPIC, VECTOR_MSI, VECTOR_IRQFD}) {
            a.label("h" + vector)
                    .movAl(vector).outImmAl(VECTOR_PORT)     // out VECTOR_PORT, al
                    .movMem32Imm(LAPIC + 0xB0, 0)            // LAPIC EOI
                    .sti().jmp("idle");                      // sti; jmp idle
        }
        t.load(CODE, a.bytes());
        for (int vector : new int[] {VECTOR_IOAPIC, VECTOR_MSI, VECTOR_IRQFD})
            t.interruptGate(IDT, vector, a.address("h" + vector));
        t.protectedMode(t.vcpu(), CODE, IDT, 256);
        return vectors;
    }

    @Test
    default void anIoapicInputRaisedWithIrqLineRunsTheGuestsHandlerEachTime() throws Exception {
        try (GuestVm t = vm(true)) {
            Ports ready = new Ports(), vectors = loadGuest(t, ready);
            t.start();
            assertThat(ready.next()).isEqualTo(1);

            t.vm.irqChip().setLevel(GSI, true);
            t.vm.irqChip().setLevel(GSI, false);
            assertThat(vectors.next()).isEqualTo(VECTOR_IOAPIC);

            // After the EOI the same edge input interrupts again.
            t.vm.irqChip().line(GSI).pulse();
            assertThat(vectors.next()).isEqualTo(VECTOR_IOAPIC);
        }
    }

    @Test
    default void anMsiSignalledDirectlyRunsTheGuestsHandler() throws Exception {
        try (GuestVm t = vm(true)) {
            Ports ready = new Ports(), vectors = loadGuest(t, ready);
            t.start();
            assertThat(ready.next()).isEqualTo(1);

            // Address: the LAPIC window, destination APIC ID 0; data: fixed delivery, the vector.
            t.vm.irqChip().signalMsi(new MsiMessage(LAPIC, VECTOR_MSI));

            assertThat(vectors.next()).isEqualTo(VECTOR_MSI);
        }
    }

    @Test
    default void anIrqfdOnAGsiRoutedToAnMsiDeliversItWhenSignalled() throws Exception {
        try (GuestVm t = vm(true); EventFd irq = t.vm.createEventFd()) {
            Ports ready = new Ports(), vectors = loadGuest(t, ready);
            t.vm.routeMsi(32, new MsiMessage(LAPIC, VECTOR_IRQFD));
            try (Binding b = t.vm.bindIrqFd(irq, 32)) {
                t.start();
                assertThat(ready.next()).isEqualTo(1);

                irq.signal();

                assertThat(vectors.next()).isEqualTo(VECTOR_IRQFD);
                t.runner().stop();
            }
        }
    }

    @Test
    default void thePitsIrq0ArrivesOnIoapicInput2AsTheMadtsOverrideSays() throws Exception {
        int vectorTimer = 0x43, timerPin = 2; // MADT: interrupt source override, ISA IRQ 0 -> GSI 2
        try (GuestVm t = vm(true)) {
            Ports vectors = new Ports();
            t.ports.register("vector", VECTOR_PORT, 1, vectors);
            Asm a = Asm.protected32(CODE)
                    .movMem32Imm(LAPIC + 0xF0, 0x1FF)              // LAPIC SVR: software-enable, spurious vector 0xFF
                    .movMem32Imm(LAPIC + 0x350, 0x10000)           // LVT0 masked: nothing from the PIC
                    .movMem32Imm(IOAPIC, 0x10 + 2 * timerPin)      // redirection entry 2, low word
                    .movMem32Imm(IOAPIC + 0x10, vectorTimer)       // fixed, edge, active high, unmasked
                    .movMem32Imm(IOAPIC, 0x10 + 2 * timerPin + 1)  // high word
                    .movMem32Imm(IOAPIC + 0x10, 0)                 // destination APIC ID 0
                    .movAl(0x34).outImmAl(0x43)                    // PIT: counter 0, low then high byte, mode 2
                    .movAl(0x00).outImmAl(0x40).movAl(0x10).outImmAl(0x40) // count 0x1000 (about 3.4 ms)
                    .sti()
                    .label("idle").hlt().jmp("idle")
                    .label("timer")
                    .movAl(vectorTimer).outImmAl(VECTOR_PORT)      // report the vector
                    .movMem32Imm(LAPIC + 0xB0, 0)                  // LAPIC EOI
                    .sti().jmp("idle");
            t.load(CODE, a.bytes());
            t.interruptGate(IDT, vectorTimer, a.address("timer"));
            t.protectedMode(t.vcpu(), CODE, IDT, 256);
            t.start();

            assertThat(vectors.next()).isEqualTo(vectorTimer);
            t.runner().stop();
        }
    }
}
