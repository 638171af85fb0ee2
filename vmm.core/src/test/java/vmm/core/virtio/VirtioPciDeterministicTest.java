package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoMoreInteractions;
import static org.mockito.Mockito.when;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.device.DeviceState;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;

/**
 * A deterministic run ({@link VmConfig#deterministic()}) through the virtio-pci transport: a notify of a queue the
 * device serves to completion returns only once the device's own threads completed what it offered, so the
 * completion is in the used ring at the same guest instruction on every run; a receive queue is not waited for;
 * the device is told; no kernel bindings are made.
 */
class VirtioPciDeterministicTest {
    private final PciTestbed t = new PciTestbed();
    private final ExecutorService worker = Executors.newSingleThreadExecutor();

    @AfterEach
    void close() {
        worker.shutdownNow();
        t.close();
    }

    /**
     * A device that hands every chain to a worker thread which completes it only after the notify that offered it
     * has returned from the device: without a deterministic run's wait the guest's write returns first.
     */
    private final class LateDevice implements VirtioDevice {
        final boolean servesToCompletion;
        volatile VirtioContext context;

        LateDevice(boolean servesToCompletion) {
            this.servesToCompletion = servesToCompletion;
        }

        @Override public int deviceId() { return 63; }
        @Override public long deviceFeatures() { return 0; }
        @Override public int queueCount() { return 1; }
        @Override public int maxQueueSize(int queue) { return 16; }
        @Override public int configSize() { return 0; }
        @Override public long readConfig(int offset, int size) { return 0; }
        @Override public void writeConfig(int offset, int size, long value) { }
        @Override public void activate(VirtioContext ctx) { context = ctx; }

        @Override
        public void queueNotify(int queue) {
            VirtQueue q = context.queue(queue);
            CountDownLatch returned = new CountDownLatch(1);
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                DescriptorChain chain = c;
                worker.execute(() -> {
                    try {
                        returned.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (servesToCompletion) q.complete(chain, chain.write(0, new byte[] {'d'}, 0, 1));
                });
            }
            returned.countDown();
        }

        @Override
        public boolean servesToCompletion(int queue) {
            return servesToCompletion;
        }

        @Override public void start() { }
        @Override public void pause() { }
        @Override public void resume() { }
        @Override public void reset() { context = null; }
        @Override public void stop() { }
        @Override public DeviceState saveState() { return DeviceState.builder("late", 1).build(); }
        @Override public void restoreState(DeviceState state) { }
    }

    private static VirtualMachine deterministicVm() {
        VirtualMachine vm = mock(VirtualMachine.class);
        when(vm.config()).thenReturn(new VmConfig(1, true, true));
        return vm;
    }

    @Test
    void aNotifyReturnsOnlyOnceTheDevicesThreadsCompletedWhatItOffered() {
        LateDevice dev = new LateDevice(true);
        VirtioPciTransport tr = t.plug(3, dev);
        VirtualMachine vm = deterministicVm();
        tr.useHypervisor(vm, new GsiPool(64));
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.start(0, 8, 0x1000);

        VirtioPciQueueTest.offerRequest(ring);
        d.notifyQueue(0);

        assertThat(ring.usedIdx()).as("completions in the used ring when the notify write returns").isEqualTo(1);
        assertThat(t.memory.readU8(VirtioPciQueueTest.BUF + 0x100)).isEqualTo('d');
        assertThat(dev.context.deterministic()).as("the device is told it serves a deterministic run").isTrue();
        verify(vm).config();
        verifyNoMoreInteractions(vm); // no ioeventfd, irqfd or GSI: every notify and interrupt stays in user space
    }

    @Test
    void aQueueThatHoldsBuffersForInputIsNotWaitedFor() {
        LateDevice dev = new LateDevice(false);
        VirtioPciTransport tr = t.plug(3, dev);
        tr.useHypervisor(deterministicVm(), new GsiPool(64));
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.start(0, 8, 0x1000);

        VirtioPciQueueTest.offerRequest(ring);
        d.notifyQueue(0);

        assertThat(ring.usedIdx()).as("a receive buffer stays with the device until input comes").isZero();
        assertThat(dev.context.queue(0).outstanding()).isEqualTo(1);
    }

    @Test
    void aRealTimeRunTellsTheDeviceItIsNotDeterministic() {
        LateDevice dev = new LateDevice(true);
        t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);
        assertThat(dev.context.deterministic()).isFalse();
    }
}
