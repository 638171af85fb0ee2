package device.viona;

import static device.viona.vhost.VhostUapi.*;
import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import vmm.core.virtio.VirtQueue;
import java.util.Collections;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.viona.vhost.VhostHost;
import device.viona.vhost.VhostIoctls;
import device.viona.vhost.VhostNetDataPath;
import device.virtio_net.protocol.NetFeatures;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.core.virtio.VirtioFeatures;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/**
 * The vhost-net engine at its ioctl seam: a recording kernel checks the
 * request numbers and struct bytes against {@code uapi/linux/vhost.h}, the
 * order vhost requires, and how kicks and calls cross.
 */
@ExtendWith(TestMachineExtension.class)
class VhostNetSeamTest {
    /** VHOST_NET_F_VIRTIO_NET_HDR: offered by the kernel, never to be acked (the TAP carries the header). */
    static final long VHOST_NET_F_VIRTIO_NET_HDR = 1L << 27;
    static final long KERNEL_FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VHOST_NET_F_VIRTIO_NET_HDR;
    static final int TAP_FD = 77;

    record Call(long request, byte[] arg) {
        int u32(int off) { return java.nio.ByteBuffer.wrap(arg).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(off); }
        long u64(int off) { return java.nio.ByteBuffer.wrap(arg).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(off); }
    }

    /** A vhost-net instance that records every ioctl with the bytes of its struct. */
    static class RecordingVhost implements VhostIoctls {
        final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> signals = Collections.synchronizedList(new ArrayList<>());
        final LinkedBlockingQueue<Integer> fire = new LinkedBlockingQueue<>();
        long failOn = -1;
        int nextFd = 100;
        int ringBase = 5;
        volatile boolean closed;

        @Override
        public void ioctl(long request, MemorySegment arg) throws IOException {
            calls.add(new Call(request, arg.equals(MemorySegment.NULL) ? new byte[0] : arg.toArray(ValueLayout.JAVA_BYTE)));
            if (request == failOn) throw new IOException("errno 22");
            if (request == VHOST_GET_FEATURES) arg.set(ValueLayout.JAVA_LONG, 0, KERNEL_FEATURES);
            if (request == VHOST_GET_VRING_BASE) arg.set(ValueLayout.JAVA_INT, 4, ringBase);
        }

        @Override public synchronized int eventfd() { return nextFd++; }
        @Override public void signal(int fd) { signals.add(fd); }

        @Override
        public int[] drain(int[] fds, long timeoutMillis) {
            try {
                Integer fd = fire.poll(timeoutMillis, TimeUnit.MILLISECONDS);
                if (fd == null) return new int[0];
                for (int i = 0; i < fds.length; i++) if (fds[i] == fd) return new int[] {i};
                return new int[0];
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new int[0];
            }
        }

        @Override public void close() { closed = true; }

        List<Long> requests() {
            synchronized (calls) {
                return calls.stream().map(Call::request).toList();
            }
        }

        Call last(long request) {
            synchronized (calls) {
                for (int i = calls.size() - 1; i >= 0; i--) if (calls.get(i).request() == request) return calls.get(i);
            }
            throw new AssertionError("no ioctl 0x" + Long.toHexString(request));
        }
    }

    final List<RecordingVhost> opened = new ArrayList<>();
    final VhostHost host = new VhostHost() {
        @Override public String unavailable() { return null; }
        @Override public VhostIoctls open() {
            RecordingVhost v = new RecordingVhost();
            opened.add(v);
            return v;
        }
    };
    final FakeBackend fake = new FakeBackend();

    @Test
    void requestNumbersAreThoseOfTheUapiHeader() {
        assertThat(VHOST_GET_FEATURES).isEqualTo(0x8008AF00L);
        assertThat(VHOST_SET_FEATURES).isEqualTo(0x4008AF00L);
        assertThat(VHOST_SET_OWNER).isEqualTo(0xAF01L);
        assertThat(VHOST_SET_MEM_TABLE).isEqualTo(0x4008AF03L);
        assertThat(VHOST_SET_VRING_NUM).isEqualTo(0x4008AF10L);
        assertThat(VHOST_SET_VRING_ADDR).isEqualTo(0x4028AF11L);
        assertThat(VHOST_SET_VRING_BASE).isEqualTo(0x4008AF12L);
        assertThat(VHOST_GET_VRING_BASE).isEqualTo(0xC008AF12L);
        assertThat(VHOST_SET_VRING_KICK).isEqualTo(0x4008AF20L);
        assertThat(VHOST_SET_VRING_CALL).isEqualTo(0x4008AF21L);
        assertThat(VHOST_NET_SET_BACKEND).isEqualTo(0x4008AF30L);
    }

    @Test
    void handsBothRingsToTheKernelInOrderWithTheUapiStructs(TestMachine m) {
        fake.tapFd = OptionalInt.of(TAP_FD);
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, host), "viona", VionaTest.config("offload", "false"));
        assertThat(VionaTest.model(dev).dataPath()).isInstanceOf(VhostNetDataPath.class);
        long wanted = VionaTest.SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(wanted, 64, 128, 16);
        RecordingVhost v = opened.get(0);

        assertThat(v.requests()).containsExactly(VHOST_SET_OWNER, VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE,
                VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND,
                VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND);
        long negotiated = (wanted | VirtioFeatures.bit(VirtioFeatures.VERSION_1)) & d.deviceFeatures();
        assertThat(v.calls.get(2).u64(0)).as("acked: negotiated and known to the kernel, not its header feature").isEqualTo(negotiated & KERNEL_FEATURES);
        Call mem = v.calls.get(3);
        var regions = m.memory().regions();
        assertThat(mem.arg()).hasSize(VHOST_MEMORY_SIZE + VHOST_MEMORY_REGION_SIZE * regions.size());
        assertThat(mem.u32(0)).isEqualTo(regions.size());
        assertThat(mem.u64(8)).isEqualTo(regions.get(0).guestBase());
        assertThat(mem.u64(16)).isEqualTo(regions.get(0).size());
        assertThat(mem.u64(24)).isEqualTo(regions.get(0).segment().address());
        for (int ring = 0; ring < 2; ring++) {
            DriverQueue q = d.queue(ring);
            int at = 4 + 6 * ring;
            assertThat(v.calls.get(at).arg()).hasSize(VHOST_VRING_STATE_SIZE);
            assertThat(v.calls.get(at).u32(0)).isEqualTo(ring);
            assertThat(v.calls.get(at).u32(4)).isEqualTo(q.size());
            assertThat(v.calls.get(at + 1).u32(4)).as("ring base: nothing taken yet").isZero();
            Call addr = v.calls.get(at + 2);
            assertThat(addr.arg()).hasSize(VHOST_VRING_ADDR_SIZE);
            assertThat(addr.u32(0)).isEqualTo(ring);
            assertThat(addr.u32(4)).isZero();
            assertThat(addr.u64(8)).isEqualTo(m.memory().slice(q.descriptorTableAddress(), 1).address());
            assertThat(addr.u64(16)).isEqualTo(m.memory().slice(q.usedRingAddress(), 1).address());
            assertThat(addr.u64(24)).isEqualTo(m.memory().slice(q.availRingAddress(), 1).address());
            assertThat(addr.u64(32)).isZero();
            assertThat(v.calls.get(at + 5).u32(0)).isEqualTo(ring);
            assertThat(v.calls.get(at + 5).u32(4)).isEqualTo(TAP_FD);
        }
        int txKick = v.calls.get(13).u32(4), txCall = v.calls.get(14).u32(4);

        int before = v.signals.size(); // the transport kicks every ring once at DRIVER_OK
        d.queue(1).kick();
        assertThat(v.signals.subList(before, v.signals.size())).as("a kick goes to the kernel's kick eventfd").containsExactly(txKick);
        v.fire.add(txCall);
        assertThat(m.interrupts()).receivesMsi(d.msiData(2), 1);

        dev.model().pause();
        assertThat(v.requests().subList(16, v.requests().size())).containsExactly(VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE,
                VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE);
        assertThat(v.calls.get(16).u32(4)).as("detached").isEqualTo(-1);
        assertThat(((VhostNetDataPath) VionaTest.model(dev).dataPath()).ringPositions()).containsExactly(5, 5);
        dev.model().resume();
        assertThat(v.last(VHOST_NET_SET_BACKEND).u32(4)).isEqualTo(TAP_FD);
        assertThat(d).isHealthy();
    }

    /**
     * A vhost-net that moves transmit chains as the kernel does: it keeps each
     * ring's last avail index from SET_VRING_BASE, finds the rings and guest
     * memory through the host addresses of SET_VRING_ADDR and SET_MEM_TABLE,
     * and on a kick of the transmit ring (with a back end attached) takes up
     * to {@link #budget} chains, "sends" their bytes after the 12-byte header,
     * writes each to the used ring, publishes the used index and signals the
     * call eventfd. GET_VRING_BASE reports its last avail index.
     */
    static final class RingKernel extends RecordingVhost {
        final int[] num = new int[2], lastAvail = new int[2], usedIdx = new int[2], kick = {-1, -1}, call = {-1, -1}, backend = {-1, -1};
        final long[][] ring = new long[2][];
        final List<long[]> regions = new ArrayList<>();
        final List<byte[]> sent = Collections.synchronizedList(new ArrayList<>());
        volatile int budget = Integer.MAX_VALUE;

        @Override
        public synchronized void ioctl(long request, MemorySegment arg) throws IOException {
            super.ioctl(request, arg);
            int idx = request == VHOST_SET_MEM_TABLE || request == VHOST_SET_OWNER || request == VHOST_GET_FEATURES
                    || request == VHOST_SET_FEATURES ? -1 : arg.get(ValueLayout.JAVA_INT, 0);
            if (request == VHOST_SET_MEM_TABLE) {
                regions.clear();
                for (int i = 0; i < arg.get(ValueLayout.JAVA_INT, 0); i++) {
                    long at = VHOST_MEMORY_SIZE + (long) VHOST_MEMORY_REGION_SIZE * i;
                    regions.add(new long[] {arg.get(ValueLayout.JAVA_LONG, at), arg.get(ValueLayout.JAVA_LONG, at + 8),
                            arg.get(ValueLayout.JAVA_LONG, at + 16)});
                }
            } else if (request == VHOST_SET_VRING_NUM) {
                num[idx] = arg.get(ValueLayout.JAVA_INT, 4);
            } else if (request == VHOST_SET_VRING_BASE) {
                lastAvail[idx] = arg.get(ValueLayout.JAVA_INT, 4);
            } else if (request == VHOST_GET_VRING_BASE) {
                arg.set(ValueLayout.JAVA_INT, 4, lastAvail[idx]);
            } else if (request == VHOST_SET_VRING_ADDR) {
                ring[idx] = new long[] {arg.get(ValueLayout.JAVA_LONG, 8), arg.get(ValueLayout.JAVA_LONG, 16), arg.get(ValueLayout.JAVA_LONG, 24)};
                usedIdx[idx] = Short.toUnsignedInt(host(ring[idx][1] + 2, 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
            } else if (request == VHOST_SET_VRING_KICK) {
                kick[idx] = arg.get(ValueLayout.JAVA_INT, 4);
            } else if (request == VHOST_SET_VRING_CALL) {
                call[idx] = arg.get(ValueLayout.JAVA_INT, 4);
            } else if (request == VHOST_NET_SET_BACKEND) {
                backend[idx] = arg.get(ValueLayout.JAVA_INT, 4);
            }
        }

        @Override
        public void signal(int fd) {
            super.signal(fd);
            boolean used = false;
            synchronized (this) {
                if (fd != kick[1] || backend[1] < 0) return;
                int n = num[1];
                long desc = ring[1][0], usedRing = ring[1][1], avail = ring[1][2];
                int availIdx = Short.toUnsignedInt(host(avail + 2, 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                while (lastAvail[1] != availIdx && budget > 0) {
                    int head = Short.toUnsignedInt(host(avail + 4 + 2L * (lastAvail[1] % n), 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
                    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                    for (int i = head, hops = 0; hops < n; hops++) {
                        MemorySegment d = host(desc + 16L * i, 16);
                        long gpa = d.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                        int len = d.get(ValueLayout.JAVA_INT_UNALIGNED, 8), flags = Short.toUnsignedInt(d.get(ValueLayout.JAVA_SHORT_UNALIGNED, 12));
                        out.writeBytes(guest(gpa, len).toArray(ValueLayout.JAVA_BYTE));
                        if ((flags & 1) == 0) break;
                        i = Short.toUnsignedInt(d.get(ValueLayout.JAVA_SHORT_UNALIGNED, 14));
                    }
                    byte[] chain = out.toByteArray();
                    sent.add(Arrays.copyOfRange(chain, 12, chain.length));
                    MemorySegment e = host(usedRing + 4 + 8L * (usedIdx[1] % n), 8);
                    e.set(ValueLayout.JAVA_INT_UNALIGNED, 0, head);
                    e.set(ValueLayout.JAVA_INT_UNALIGNED, 4, 0);
                    usedIdx[1] = (usedIdx[1] + 1) & 0xffff;
                    host(usedRing + 2, 2).set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) usedIdx[1]);
                    lastAvail[1] = (lastAvail[1] + 1) & 0xffff;
                    budget--;
                    used = true;
                }
            }
            if (used) fire.add(call[1]);
        }

        private static MemorySegment host(long address, long length) {
            return MemorySegment.ofAddress(address).reinterpret(length);
        }

        private MemorySegment guest(long gpa, long length) {
            for (long[] r : regions)
                if (gpa >= r[0] && gpa + length <= r[0] + r[1]) return host(r[2] + gpa - r[0], length);
            throw new AssertionError("a descriptor outside the memory table: 0x" + Long.toHexString(gpa));
        }
    }

    /** A host whose every open is a new {@link RingKernel} that takes at most {@code budget} chains, kept in {@code kernels}. */
    private static VhostHost ringHost(List<RingKernel> kernels, int budget) {
        return new VhostHost() {
            @Override public String unavailable() { return null; }
            @Override public VhostIoctls open() {
                RingKernel k = new RingKernel();
                k.budget = budget;
                kernels.add(k);
                return k;
            }
        };
    }

    @Test
    void aSwapAwayFromVhostNetContinuesExactlyWhereTheKernelStopped(TestMachine m) {
        fake.tapFd = OptionalInt.of(TAP_FD);
        List<RingKernel> kernels = new ArrayList<>();
        VhostHost ringHost = ringHost(kernels, 5); // it takes five chains, then the swap comes
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, ringHost), "viona", VionaTest.config("offload", "false"));
        VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(VionaTest.SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        Set<Integer> heads = new HashSet<>();
        for (int i = 0; i < 8; i++) heads.add(tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, i, 60)))));
        tx.kick();
        for (int i = 0; i < 5; i++) assertThat(heads.remove(tx.await(VionaTest.TIMEOUT).head())).isTrue();
        RingKernel k = kernels.get(0);
        assertThat(k.sent).hasSize(5);

        VhostNetDataPath kernelPath = (VhostNetDataPath) VionaTest.model(dev).dataPath();
        dev.swapTo("viona", new VionaProvider((id, o) -> fake, VionaTest.NO_VHOST));
        assertThat(kernelPath.ringPositions()).as("GET_VRING_BASE: rx untouched, tx after five").containsExactly(0, 5);
        for (int i = 0; i < 3; i++) assertThat(heads.remove(tx.await(VionaTest.TIMEOUT).head())).as("each head completed once").isTrue();
        for (int i = 8; i < 10; i++) tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, i, 60))));
        tx.kick();
        tx.await(VionaTest.TIMEOUT);
        tx.await(VionaTest.TIMEOUT);

        List<Integer> seqs = new ArrayList<>();
        for (byte[] f : k.sent) seqs.add(Frames.seq(f, false));
        for (FakeBackend.Sent s : fake.sent()) seqs.add(Frames.seq(s.frame(), false));
        assertThat(seqs).as("every frame sent once, in order, by the kernel then the in-process engine")
                .containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertThat(tx.poll()).isNull();
        VirtQueue q = dev.transport().context().queue(1);
        assertThat(q.lastAvailIndex()).isEqualTo(10);
        assertThat(q.usedIndex()).isEqualTo(10);
        assertThat(d).isHealthy();
    }

    @Test
    void onKvmTheGuestsKickIsBoundToVhostNetsKickEventfdAndNeverReachesTheVmm() {
        fake.tapFd = OptionalInt.of(TAP_FD);
        List<RingKernel> kernels = new ArrayList<>();
        VhostHost ringHost = ringHost(kernels, Integer.MAX_VALUE);
        vmm.testing.InterruptRecorder irq = new vmm.testing.InterruptRecorder();
        vmm.core.memory.GuestMemory memory = vmm.core.memory.GuestMemory.ofSize(TestMachine.DEFAULT_MEMORY);
        vmm.core.machine.Machine machine = new vmm.core.machine.Machine(memory, irq);
        FakeVm vm = new FakeVm(memory, irq);
        vm.attach(machine);
        machine.useHypervisor(vm, new vmm.core.hypervisor.GsiPool(64));
        try {
            TestMachine m = TestMachine.attach(machine, irq);
            DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, ringHost), "viona",
                    VionaTest.config("offload", "false"));
            VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(VionaTest.SIMPLE, 64, 64, 16);
            RingKernel k = kernels.get(0);
            long notify = machine.pci().function(VionaTest.SLOT).barAddress(4) + 0x3000 + 4;
            assertThat(dev.transport().kernelNotifyAddress(1)).isEqualTo(notify);
            assertThat(vm.ioEventAt(notify).fd()).as("bound to the fd vhost-net got with SET_VRING_KICK").isEqualTo(k.kick[1]);

            DriverQueue tx = d.queue(1);
            int head = tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 7, 60))));
            vm.guestWrite(notify, 2, 1);
            assertThat(tx.await(VionaTest.TIMEOUT).head()).isEqualTo(head);
            assertThat(k.sent).hasSize(1);
            assertThat(dev.transport().busNotifies(1)).isZero();
            assertThat(irq.awaitMsiCount(d.msiData(2), 1, VionaTest.TIMEOUT)).as("the call came back as the queue's interrupt").isTrue();
            assertThat(vm.irqfdDeliveries.get()).isEqualTo(1);
        } finally {
            machine.close();
        }
    }

    @Test
    void aTakenOverUsedIndexTheGuestCorruptedBreaksTheQueueNotTheVmm(TestMachine m) {
        fake.tapFd = OptionalInt.of(TAP_FD);
        VhostHost ringHost = ringHost(new ArrayList<>(), Integer.MAX_VALUE);
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, ringHost), "viona", VionaTest.config("offload", "false"));
        VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(VionaTest.SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 1, 60))));
        tx.kick();
        tx.await(VionaTest.TIMEOUT);
        m.memory().writeU16(tx.usedRingAddress() + 2, 40000); // the guest scribbles on the device's field
        dev.swapTo("viona", new VionaProvider((id, o) -> fake, VionaTest.NO_VHOST));
        assertThat(d).needsReset();
        assertThat(dev.transport().lastError()).contains("used index 40000");
    }

    @Test
    void aKernelThatRefusesTheRingsPutsTheDeviceInNeedsResetAndReleasesVhost(TestMachine m) {
        fake.tapFd = OptionalInt.of(TAP_FD);
        VhostHost refusing = new VhostHost() {
            @Override public String unavailable() { return null; }
            @Override public VhostIoctls open() {
                RecordingVhost v = new RecordingVhost();
                v.failOn = VHOST_SET_VRING_ADDR;
                opened.add(v);
                return v;
            }
        };
        m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, refusing), "viona", VionaTest.config("offload", "false"));
        VirtioDriver d = m.virtio(VionaTest.SLOT);
        d.negotiate(VionaTest.SIMPLE);
        d.enableMsix();
        for (int q = 0; q < 3; q++) d.setupQueue(q, 64);
        d.driverOk();
        assertThat(d).needsReset();
        assertThat(opened.get(0).closed).isTrue();
    }

    @Test
    void aBackEndThatIsNoTapKeepsTheInProcessEngine(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, host), "viona", VionaTest.config());
        assertThat(VionaTest.model(dev).dataPath().engine()).contains("in-process");
        assertThat(opened).isEmpty();
    }
}
