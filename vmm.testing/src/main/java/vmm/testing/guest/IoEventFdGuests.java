package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.StopReport;

/** Guest writes bound to an eventfd signal it inside the kernel and never reach the bus. */
public interface IoEventFdGuests extends GuestBackEnd {

    @Test
    default void boundPortAndMmioWritesSignalTheEventFdAndSkipTheBus() throws Exception {
        try (GuestVm t = vm(false); EventFd portEvent = t.vm.createEventFd(); EventFd mmioEvent = t.vm.createEventFd()) {
            Ports portBus = new Ports(), mmioBus = new Ports(), done = new Ports();
            t.ports.register("bound-port", 0xE2, 1, portBus);
            t.mmio.register("bound-mmio", 0xD0040, 2, mmioBus);
            t.ports.register("done", 0xE3, 1, done);
            try (Binding p = t.vm.bindIoEvent(portEvent, AddressSpace.IO_PORT, 0xE2, 1, OptionalLong.empty());
                 Binding m = t.vm.bindIoEvent(mmioEvent, AddressSpace.MMIO, 0xD0040, 2, OptionalLong.empty())) {
                Asm a = Asm.real(0x1000)
                        .movAl(7).outImmAl(0xE2)           // out 0xE2, al      ; bound: no exit
                        .movAx(0xD000).movDsAx()
                        .movAx(1).movMemAx16(0x40)         // mov [0x40], ax    ; bound MMIO at 0xD0040: no exit
                        .movAl(1).outImmAl(0xE3)           // out 0xE3, al      ; unbound: the test sees it
                        .hlt();
                t.load(0x1000, a.bytes());
                t.realMode(t.vcpu(), 0x1000);
                t.start();

                assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
                assertThat(done.next()).isEqualTo(1);
                // The kernel signalled both before the guest's next instruction ran.
                assertThat(portEvent.poll()).isEqualTo(1);
                assertThat(mmioEvent.poll()).isEqualTo(1);
                assertThat(portBus.pending()).isZero();
                assertThat(mmioBus.pending()).isZero();
            }
        }
    }

    @Test
    default void aDatamatchBindingTakesOnlyItsValueAndLeavesOthersToTheBus() throws Exception {
        try (GuestVm t = vm(false); EventFd event = t.vm.createEventFd()) {
            Ports bus = new Ports();
            t.ports.register("queue-notify", 0xE4, 2, bus);
            try (Binding b = t.vm.bindIoEvent(event, AddressSpace.IO_PORT, 0xE4, 2, OptionalLong.of(5))) {
                Asm a = Asm.real(0x1000)
                        .movAx(4).outImmAx(0xE4)           // out 0xE4, ax      ; 4: not the datamatch, goes to the bus
                        .movAx(5).outImmAx(0xE4)           // out 0xE4, ax      ; 5: signals the eventfd
                        .hlt();
                t.load(0x1000, a.bytes());
                t.realMode(t.vcpu(), 0x1000);
                t.start();

                assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
                assertThat(bus.next()).isEqualTo(4);
                assertThat(bus.pending()).isZero();
                assertThat(event.poll()).isEqualTo(1);
            }
        }
    }

    @Test
    default void anUnboundEventFdIsNoLongerSignalled() throws Exception {
        try (GuestVm t = vm(false); EventFd event = t.vm.createEventFd()) {
            Ports bus = new Ports();
            t.ports.register("port", 0xE2, 1, bus);
            t.vm.bindIoEvent(event, AddressSpace.IO_PORT, 0xE2, 1, OptionalLong.empty()).close();
            Asm a = Asm.real(0x1000).movAl(9).outImmAl(0xE2).hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(bus.next()).isEqualTo(9);
            assertThat(event.poll()).isZero();
        }
    }
}
