package vmm.kvm.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.viona.VionaProvider;
import device.virtio_net.model.NetModel;
import device.virtio_net.protocol.NetCounters.Counter;
import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.VmConfig;
import vmm.core.hypervisor.VmRunner;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioPciTransport;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.InterruptRecorder;
import vmm.testing.PciHarness;
import vmm.testing.TestMachine;
import vmm.testing.VirtioDriver;
import vmm.testing.guest.GuestVm;
import vmm.testing.guest.Asm;
import vmm.testing.guest.Ports;

/**
 * viona's data path under a real KVM guest: the guest's write to the
 * transmit queue's notify address wakes viona's worker through KVM ioeventfd
 * (no exit reaches the VMM's bus: the transport counts none), the frame goes
 * out of a Unix datagram back end to a second viona device, and the
 * completion interrupt reaches the guest's handler through an irqfd routed to
 * the MSI-X message the guest programmed.
 */
class VirtioKernelPathGuestTest implements KvmBackEnd {
    static final PciAddress A = PciAddress.slot(7), B = PciAddress.slot(8);
    static final long CODE = 0x1000, IDT = 0x600, LAPIC = 0xFEE0_0000L;
    /** Where the test moves A's BAR4 (64-bit, firmware put it above 4 GiB), so 32-bit guest code can reach it. */
    static final long BAR4 = 0xE000_0000L;
    static final int TX = 1, TX_VECTOR = 2, GUEST_VECTOR = 0x45;
    static final int READY = 0xE0, VECTOR_PORT = 0xE1, PUBLISH = 0xE2;

    @TempDir
    Path dir;

    @Test
    void aGuestKickWakesVionasWorkerWithoutAnExitAndTheCompletionComesThroughAnIrqfd() throws Exception {
        try (GuestVm t = vm(new VmConfig(1, true), () -> GuestMemory.ofSize(16L << 20))) {
            InterruptRecorder unused = new InterruptRecorder();
            Machine machine = new Machine(t.memory, t.vm.irqChip());
            machine.useHypervisor(t.vm, new GsiPool(1024));
            TestMachine kit = TestMachine.attach(machine, unused);
            Path sa = dir.resolve("a.sock"), sb = dir.resolve("b.sock");
            VionaProvider viona = new VionaProvider();
            DeviceInstance a = kit.plug("virtio-net", A, viona, "viona",
                    Map.of("dgram", sa.toString(), "peer", sb.toString(), "offload", "false", "mac", "52:54:00:00:00:0a"));
            DeviceInstance b = kit.plug("virtio-net", B, viona, "viona",
                    Map.of("dgram", sb.toString(), "peer", sa.toString(), "offload", "false", "mac", "52:54:00:00:00:0b"));
            VmRunner runner = null;
            try {
                VirtioDriver da = kit.virtio(A).initialize(0, 64, 64, 16);
                VirtioDriver db = kit.virtio(B).initialize(0, 64, 64, 16);
                // B's interrupts are not for this guest (it has handlers for one vector only): mask its function.
                PciHarness.Cap msixB = msix(db);
                kit.pci().write16(B, msixB.offset() + 2, kit.pci().read16(B, msixB.offset() + 2) | 0x4000);
                DriverQueue rxB = db.queue(0);
                rxB.add(List.of(), 1526);
                rxB.kick();

                // The "firmware" moves A's BAR4 below 4 GiB; the notify binding follows it.
                VirtioPciTransport ta = a.transport();
                long before = ta.kernelNotifyAddress(TX);
                kit.pci().write32(A, PciHarness.BAR0 + 16, (int) BAR4 | 0xC); // 64-bit prefetchable memory
                kit.pci().write32(A, PciHarness.BAR0 + 20, 0);
                assertThat(before).as("bound at the firmware's address first").isEqualTo(da.function().bar(4).address() + 0x3000 + 4 * TX);
                assertThat(ta.kernelNotifyAddress(TX)).isEqualTo(BAR4 + 0x3000 + 4 * TX);
                assertThat(ta.kernelNotifyAddress(2)).as("the control queue keeps the plain path").isEqualTo(-1);

                // The guest's driver programs TX's vector with its own vector and masks the rest.
                long table = da.function().bar(1).address();
                for (int v = 0; v < 4; v++) machine.mmio().write(table + 16L * v + 12, 4, v == TX_VECTOR ? 0 : 1);
                machine.mmio().write(table + 16L * TX_VECTOR + 8, 4, GUEST_VECTOR);
                assertThat(ta.irqfdGsi(TX_VECTOR)).isGreaterThanOrEqualTo(GsiPool.FIRST);
                assertThat(ta.irqfdGsi(1)).as("a masked vector has no irqfd").isEqualTo(-1);

                byte[] frame = new byte[12 + 60];
                Arrays.fill(frame, 12, 18, (byte) 0xff);                       // broadcast
                byte[] src = {0x52, 0x54, 0, 0, 0, 0x0a};
                System.arraycopy(src, 0, frame, 18, 6);
                frame[24] = 0x08;                                               // IPv4 ethertype, payload zeros
                frame[40] = 0x5a;                                               // a mark to find it by
                DriverQueue txA = da.queue(TX);
                long notifiesBefore = ta.busNotifies(TX);

                // The chain is published only once the guest can take its interrupt: viona's worker
                // also serves the ring on its idle poll, without a kick, and KVM drops a fixed
                // interrupt sent to a LAPIC that is not yet software-enabled (the guest would hang).
                IoHandler publish = new IoHandler() {
                    @Override
                    public long read(long offset, int size) {
                        txA.add(List.of(frame));
                        return 1;
                    }

                    @Override
                    public void write(long offset, int size, long value) {
                    }
                };
                Ports ready = new Ports(), vectors = new Ports();
                machine.ioPorts().register("publish", PUBLISH, 1, publish);
                machine.ioPorts().register("ready", READY, 1, ready);
                machine.ioPorts().register("vector", VECTOR_PORT, 1, vectors);
                Asm g = Asm.protected32(CODE)
                        .movMem32Imm(LAPIC + 0xF0, 0x1FF)                        // LAPIC software-enabled
                        .sti()
                        .inAlImm(PUBLISH)                                        // the driver publishes its frame
                        .outImmAl(READY)
                        .db(0x66, 0xC7, 0x05).db(le32(BAR4 + 0x3000 + 4 * TX)).db(TX, 0) // mov word [notify TX], 1
                        .label("idle").hlt().jmp("idle");
                g.label("handler")
                        .movAl(GUEST_VECTOR).outImmAl(VECTOR_PORT)
                        .movMem32Imm(LAPIC + 0xB0, 0)                            // EOI
                        .sti().jmp("idle");                                      // no IRET: see InterruptGuestTest
                t.load(CODE, g.bytes());
                t.interruptGate(IDT, GUEST_VECTOR, g.address("handler"));
                t.protectedMode(t.vcpu(), CODE, IDT, 256);
                runner = new VmRunner("viona-guest", t.vcpus, machine.ioPorts(), machine.mmio(), t.memory);
                runner.start();

                assertThat(ready.next()).isEqualTo(1);
                assertThat(vectors.next()).as("the completion interrupt ran the guest's handler").isEqualTo(GUEST_VECTOR);
                DriverQueue.Completion done = txA.await(HangGuard.BOUND);
                assertThat(done.length()).isZero();
                byte[] got = rxB.await(HangGuard.BOUND).data();
                assertThat(got).hasSize(frame.length);
                assertThat(got[40]).isEqualTo((byte) 0x5a);
                assertThat(ta.busNotifies(TX)).as("the kick never exited to the VMM").isEqualTo(notifiesBefore);
                assertThat(ta.irqfdInterrupts()).isPositive();
                assertThat(((NetModel) a.model()).counters().get(Counter.TX_PACKETS)).isEqualTo(1);
            } finally {
                if (runner != null) runner.stop();
                a.remove();
                b.remove();
            }
        }
    }

    private static PciHarness.Cap msix(VirtioDriver d) {
        return d.function().capabilities().stream().filter(c -> c.id() == PciHarness.CAP_ID_MSIX).findFirst().orElseThrow();
    }

    private static int[] le32(long v) {
        return new int[] {(int) v & 0xff, (int) (v >>> 8) & 0xff, (int) (v >>> 16) & 0xff, (int) (v >>> 24) & 0xff};
    }
}
