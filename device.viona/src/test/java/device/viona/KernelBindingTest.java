package device.viona;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import device.virtio_net.VirtioNetProvider;
import device.virtio_net.protocol.NetFeatures;
import device.virtio_net.protocol.NetHeader;
import vmm.core.hypervisor.GsiPool;
import vmm.core.irq.MsiMessage;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.virtio.VirtioPciTransport;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.InterruptRecorder;
import vmm.testing.PciHarness;
import vmm.testing.TestMachine;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/**
 * The transport's ioeventfd and irqfd bindings through the kit, against a
 * fake of KVM's seam: they follow the BAR, the device status, the MSI-X
 * table and the device in place; a masked vector sets its pending bit; a
 * swap hands the bindings over and loses no kick.
 */
class KernelBindingTest {
    static final int RX = 0, TX = 1, CTRL = 2, TX_VECTOR = TX + 1;

    final FakeBackend fake = new FakeBackend(1, NetFeatures.OFFLOADS);
    final InterruptRecorder irq = new InterruptRecorder();
    FakeVm vm;
    TestMachine m;
    DeviceInstance dev;
    VirtioDriver d;
    VirtioPciTransport t;

    @BeforeEach
    void plug() {
        GuestMemory memory = GuestMemory.ofSize(TestMachine.DEFAULT_MEMORY);
        Machine machine = new Machine(memory, irq);
        vm = new FakeVm(memory, irq);
        vm.attach(machine);
        machine.useHypervisor(vm, new GsiPool(64));
        m = TestMachine.attach(machine, irq);
        dev = m.plug("virtio-net", VionaTest.SLOT, viona(), "viona", VionaTest.config("offload", "false"));
        d = m.virtio(VionaTest.SLOT).initialize(VionaTest.SIMPLE, 64, 64, 16);
        t = dev.transport();
    }

    @AfterEach
    void close() {
        if (m != null) m.machine().close();
    }

    VionaProvider viona() {
        return new VionaProvider((id, o) -> fake, VionaTest.NO_VHOST);
    }

    long bar4() {
        return m.machine().pci().function(VionaTest.SLOT).barAddress(4);
    }

    long notifyAddress(int q) {
        return bar4() + VirtioPciTransport.NOTIFY_CFG_OFFSET + 4L * q;
    }

    long msixEntry(int v) {
        return d.function().bar(1).address() + 16L * v;
    }

    int sendThroughGuestKick(int seq) {
        DriverQueue tx = d.queue(TX);
        int head = tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, seq, 60))));
        vm.guestWrite(notifyAddress(TX), 2, TX);
        return head;
    }

    @Test
    void activationBindsEachDataQueuesNotifyAddressToItsWorkerAndTheControlQueueKeepsTheBus() {
        assertThat(t.kernelNotifyAddress(RX)).isEqualTo(notifyAddress(RX));
        assertThat(t.kernelNotifyAddress(TX)).isEqualTo(notifyAddress(TX));
        assertThat(t.kernelNotifyAddress(CTRL)).isEqualTo(-1);
        assertThat(vm.ioEventAt(notifyAddress(RX))).as("one worker per pair: one eventfd").isSameAs(vm.ioEventAt(notifyAddress(TX)));
        for (int v = 1; v <= 3; v++) {
            int gsi = t.irqfdGsi(v);
            assertThat(gsi).isGreaterThanOrEqualTo(GsiPool.FIRST);
            assertThat(vm.routes.get(gsi)).isEqualTo(new MsiMessage(VirtioDriver.MSI_ADDRESS, d.msiData(v)));
        }
        assertThat(t.irqfdGsi(0)).as("the config vector keeps the bus's path").isEqualTo(-1);
    }

    @Test
    void aKickThroughTheBindingIsServedWithNoBusNotifyAndCompletesThroughTheIrqfd() {
        int head = sendThroughGuestKick(1);
        assertThat(d.queue(TX).await(VionaTest.TIMEOUT).head()).isEqualTo(head);
        assertThat(fake.sent()).hasSize(1);
        assertThat(t.busNotifies(TX)).isZero();
        assertThat(irq.awaitMsiCount(d.msiData(TX_VECTOR), 1, VionaTest.TIMEOUT)).isTrue();
        assertThat(vm.irqfdDeliveries.get()).isEqualTo(1);
        assertThat(t.irqfdInterrupts()).isEqualTo(1);
    }

    @Test
    void anIrqfdInterruptIsAlreadyCountedWhenTheGuestCanSeeIt() {
        // KVM injects as soon as the eventfd is written; a counter bumped after the
        // signal lets a guest (or a test watching it) see the interrupt uncounted.
        List<Long> countedAtDelivery = new CopyOnWriteArrayList<>();
        vm.onIrqfdDelivery = () -> countedAtDelivery.add(t.irqfdInterrupts());
        sendThroughGuestKick(1);
        d.queue(TX).await(VionaTest.TIMEOUT);
        assertThat(irq.awaitMsiCount(d.msiData(TX_VECTOR), 1, VionaTest.TIMEOUT)).isTrue();
        assertThat(countedAtDelivery).containsExactly(1L);
    }

    @Test
    void aBarMoveRebindsAtTheNewAddressAndDecodeOffUnbinds() {
        long old = notifyAddress(TX);
        long moved = 0xd000_0000L;
        m.pci().write32(VionaTest.SLOT, PciHarness.BAR0 + 16, (int) moved | 0xc);
        m.pci().write32(VionaTest.SLOT, PciHarness.BAR0 + 20, 0);
        assertThat(bar4()).isEqualTo(moved);
        assertThat(vm.ioEventAt(old)).isNull();
        assertThat(t.kernelNotifyAddress(TX)).isEqualTo(moved + 0x3000 + 4 * TX);
        int head = sendThroughGuestKick(2);
        assertThat(d.queue(TX).await(VionaTest.TIMEOUT).head()).isEqualTo(head);
        assertThat(t.busNotifies(TX)).isZero();

        int command = m.pci().read16(VionaTest.SLOT, PciHarness.COMMAND);
        m.pci().write16(VionaTest.SLOT, PciHarness.COMMAND, command & ~PciHarness.COMMAND_MEMORY);
        assertThat(vm.ioEvents).isEmpty();
        m.pci().write16(VionaTest.SLOT, PciHarness.COMMAND, command);
        assertThat(t.kernelNotifyAddress(TX)).isEqualTo(moved + 0x3000 + 4 * TX);
    }

    @Test
    void aResetAndDeviceNeedsResetUnbindEverythingAndDriverOkBindsAgain() {
        d.reset();
        assertThat(vm.ioEvents).isEmpty();
        assertThat(vm.irqfds).isEmpty();
        d.initialize(VionaTest.SIMPLE, 64, 64, 16);
        assertThat(t.kernelNotifyAddress(TX)).isEqualTo(notifyAddress(TX));

        d.notifyRaw(9); // a queue that does not exist: DEVICE_NEEDS_RESET
        assertThat(d.needsReset()).isTrue();
        assertThat(vm.ioEvents).isEmpty();
        assertThat(vm.irqfds).isEmpty();
    }

    @Test
    void aMaskedVectorHasNoIrqfdItsInterruptSetsThePendingBitAndUnmaskingDeliversIt() {
        long ctrl = msixEntry(TX_VECTOR) + 12;
        int gsi = t.irqfdGsi(TX_VECTOR);
        m.machine().mmio().write(ctrl, 4, 1);
        assertThat(t.irqfdGsi(TX_VECTOR)).isEqualTo(-1);
        assertThat(vm.hasIrqfdOn(gsi)).isFalse();

        int head = sendThroughGuestKick(3);
        assertThat(d.queue(TX).await(VionaTest.TIMEOUT).head()).isEqualTo(head);
        long pba = d.function().bar(1).address() + VirtioPciTransport.MSIX_PBA_OFFSET;
        awaitPending(pba);
        assertThat(m.machine().mmio().read(pba, 8) & 1L << TX_VECTOR).as("pending bit").isNotZero();
        assertThat(irq.msiCount(d.msiData(TX_VECTOR))).isZero();
        assertThat(vm.irqfdDeliveries.get()).isZero();

        m.machine().mmio().write(ctrl, 4, 0);
        assertThat(irq.msiCount(d.msiData(TX_VECTOR))).as("delivered on unmask").isEqualTo(1);
        assertThat(m.machine().mmio().read(pba, 8) & 1L << TX_VECTOR).isZero();
        assertThat(t.irqfdGsi(TX_VECTOR)).isEqualTo(gsi);
        sendThroughGuestKick(4);
        d.queue(TX).await(VionaTest.TIMEOUT);
        assertThat(irq.awaitMsiCount(d.msiData(TX_VECTOR), 2, VionaTest.TIMEOUT)).isTrue();
        assertThat(vm.irqfdDeliveries.get()).isEqualTo(1);
    }

    @Test
    void aNewMessageIsRoutedAndAQueueMovedToAnotherVectorTakesThatVectorsIrqfd() {
        int gsi = t.irqfdGsi(TX_VECTOR);
        m.machine().mmio().write(msixEntry(TX_VECTOR) + 8, 4, 0x77);
        assertThat(vm.routes.get(gsi)).isEqualTo(new MsiMessage(VirtioDriver.MSI_ADDRESS, 0x77));
        sendThroughGuestKick(5);
        d.queue(TX).await(VionaTest.TIMEOUT);
        assertThat(irq.awaitMsiCount(0x77, 1, VionaTest.TIMEOUT)).isTrue();

        d.commonWrite(VirtioDriver.QUEUE_SELECT, 2, TX);
        d.commonWrite(VirtioDriver.QUEUE_MSIX_VECTOR, 2, 0);
        assertThat(t.irqfdGsi(TX_VECTOR)).as("no queue uses it now").isEqualTo(-1);
        assertThat(t.irqfdGsi(0)).isGreaterThanOrEqualTo(GsiPool.FIRST);
        sendThroughGuestKick(6);
        d.queue(TX).await(VionaTest.TIMEOUT);
        assertThat(irq.awaitMsiCount(d.msiData(0), 1, VionaTest.TIMEOUT)).isTrue();
    }

    @Test
    void aSwapToVirtioNetAndBackHandsTheBindingsOverAndLosesNoKick() {
        dev.model().pause(); // a kick that reaches viona's eventfd now is served by whoever comes next
        int first = sendThroughGuestKick(10);
        dev.swapTo("virtio-net", new VirtioNetProvider((id, o) -> fake));
        assertThat(vm.ioEvents).as("virtio-net waits for no eventfd: the bus path").isEmpty();
        assertThat(vm.irqfds).isEmpty();
        assertThat(d.queue(TX).await(VionaTest.TIMEOUT).head()).isEqualTo(first);

        int second = sendThroughGuestKick(11); // through the bus now
        assertThat(d.queue(TX).await(VionaTest.TIMEOUT).head()).isEqualTo(second);
        assertThat(t.busNotifies(TX)).isEqualTo(1);

        dev.swapTo("viona", viona());
        assertThat(t.kernelNotifyAddress(TX)).isEqualTo(notifyAddress(TX));
        assertThat(t.irqfdGsi(TX_VECTOR)).isGreaterThanOrEqualTo(GsiPool.FIRST);
        int third = sendThroughGuestKick(12);
        assertThat(d.queue(TX).await(VionaTest.TIMEOUT).head()).isEqualTo(third);
        assertThat(t.busNotifies(TX)).isEqualTo(1);
        assertThat(fake.sent().stream().map(s -> Frames.seq(s.frame(), false)).toList()).containsExactly(10, 11, 12);
        assertThat(d).isHealthy();
    }

    @Test
    void devicesRemovedAfterTheVmIsGoneStopCleanly() {
        // PcMachine closes the VM (which drops its bindings) before removing the devices.
        vm.close();
        m.machine().close();
        m = null;
        assertThat(dev.status()).isEqualTo(DeviceInstance.Status.REMOVED);
        assertThat(fake.closed).as("the model was stopped, its back end closed").isTrue();
    }

    private void awaitPending(long pba) {
        HangGuard.await(() -> (m.machine().mmio().read(pba, 8) & 1L << TX_VECTOR) != 0,
                "the TX vector's pending bit is set");
    }
}
