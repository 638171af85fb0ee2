package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;

import vmm.core.device.DeviceProvider;
import vmm.core.machine.DeviceInstance.Status;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.pci.PciAddress;
import vmm.testing.DriverQueue;
import vmm.testing.EchoDevice;
import vmm.testing.HangGuard;
import vmm.testing.VirtioDriver;

/**
 * Hot swap driven by the framework, as a user does it: two implementations
 * of one device type are registered as {@link DeviceProvider} services; the
 * running instance is moved from one to the other by changing its
 * configuration and by withdrawing the serving service, each time with
 * requests in flight. Every request is completed exactly once, by one of
 * the implementations, with its own interrupt.
 */
class InFrameworkHotSwapTest {
    private static final PciAddress SLOT = PciAddress.parse("0:5.0");
    private static final Duration TIMEOUT = HangGuard.BOUND;
    /** Slow enough that a burst is still in flight when the swap starts. */
    private static final long DELAY_MICROS = 1500;

    @InjectBundleContext
    BundleContext context;
    @InjectService
    ConfigurationAdmin cm;

    private FrameworkMachine vm;
    private final List<ServiceRegistration<DeviceProvider>> providers = new ArrayList<>();

    @BeforeEach
    void startMachine() throws Exception {
        vm = FrameworkMachine.start(context, cm, "32M");
    }

    @AfterEach
    void stopMachine() throws Exception {
        try {
            vm.close();
        } finally {
            for (ServiceRegistration<DeviceProvider> r : providers) {
                try {
                    r.unregister();
                } catch (IllegalStateException alreadyGone) {
                    // the test withdrew it itself
                }
            }
        }
    }

    @Test
    void requestsInFlightSurviveASwapByConfigurationAndOneByWithdrawingTheService() throws Exception {
        register('A', 10);
        ServiceRegistration<DeviceProvider> b = register('B', 0);
        Configuration config = vm.device("echo", new HashMap<>(Map.of(
                "type", EchoDevice.TYPE, "address", SLOT.toString())));
        DeviceInstanceInfo info = vm.awaitDevice("echo", i -> i.status() == Status.ACTIVE);
        assertThat(info.implementation()).as("the higher-ranked provider").isEqualTo("A");

        VirtioDriver driver = vm.kit().virtio(SLOT).initialize(0, 256);
        DriverQueue q = driver.queue(0);
        Ledger ledger = new Ledger(q);

        // 1: the user picks B in the instance's configuration.
        ledger.send(60);
        config.update(FrameworkMachine.dictionary(Map.of(
                "type", EchoDevice.TYPE, "address", SLOT.toString(), "implementation", "B")));
        vm.awaitDevice("echo", i -> "B".equals(i.implementation()) && i.swapCount() == 1);
        ledger.send(20);
        ledger.drain();

        // 2: the user drops the choice; the higher-ranked A is taken back.
        config.update(FrameworkMachine.dictionary(Map.of("type", EchoDevice.TYPE, "address", SLOT.toString())));
        vm.awaitDevice("echo", i -> "A".equals(i.implementation()) && i.swapCount() == 2);

        // 3: A's bundle goes away (its service is withdrawn) with requests in flight.
        ledger.send(60);
        providers.getFirst().unregister();
        assertThat(info.implementation()).as("withdrawal swaps synchronously").isEqualTo("B");
        ledger.send(20);
        ledger.drain();

        assertThat(info.swapCount()).isEqualTo(3);
        assertThat(info.status()).isEqualTo(Status.ACTIVE);
        assertThat(ledger.completed).hasSize(160);
        assertThat(ledger.completed.values()).contains((byte) 'A', (byte) 'B');
        assertThat(ledger.completed.get(159)).as("the last burst went to B").isEqualTo((byte) 'B');
        assertThat(q.poll()).as("nothing completed twice").isNull();
        // Without EVENT_IDX or NO_INTERRUPT the device interrupts after every used entry.
        assertThat(vm.interrupts().awaitMsiCount(driver.msiData(1), 160, TIMEOUT)).isTrue();
        assertThat(vm.interrupts().msiCount(driver.msiData(1))).isEqualTo(160);
        assertThat(driver.needsReset()).isFalse();
        assertThat(b).isNotNull();
    }

    @Test
    void withdrawingTheOnlyImplementationHoldsTheDeviceUntilANewOneIsRegistered() throws Exception {
        ServiceRegistration<DeviceProvider> a = register('A', 0);
        vm.device("echo", Map.of("type", EchoDevice.TYPE, "address", SLOT.toString()));
        DeviceInstanceInfo info = vm.awaitDevice("echo", i -> i.status() == Status.ACTIVE);
        DriverQueue q = vm.kit().virtio(SLOT).initialize(0, 64).queue(0);
        Ledger ledger = new Ledger(q);
        ledger.send(5);
        ledger.drain();

        a.unregister();
        assertThat(info.status()).isEqualTo(Status.DETACHED);
        ledger.offer(3); // published but not yet kicked: the kick would wait at the gate
        register('C', 0);

        vm.awaitDevice("echo", i -> i.status() == Status.ACTIVE && "C".equals(i.implementation()));
        q.kick();
        ledger.drain();
        assertThat(ledger.completed).hasSize(8);
        assertThat(ledger.completed.get(7)).isEqualTo((byte) 'C');
        assertThat(q.poll()).isNull();
    }

    @Test
    void aProviderOfAnotherTypeIsNeverChosen() throws Exception {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(DeviceProvider.TYPE, "not-echo");
        props.put(DeviceProvider.IMPLEMENTATION, "Z");
        providers.add(context.registerService(DeviceProvider.class, EchoDevice.provider('Z', 0), props));
        vm.device("echo", Map.of("type", EchoDevice.TYPE, "address", SLOT.toString()));
        // Z was registered before the configuration: the instance saw it when it was created.
        DeviceInstanceInfo info = vm.awaitDevice("echo", i -> true);
        assertThat(info.status()).isNull();

        register('A', 0);
        vm.awaitDevice("echo", i -> i.status() == Status.ACTIVE);
        assertThat(info.implementation()).isEqualTo("A");
    }

    /** Registers an echo implementation named {@code tag}; A is ranked above the others. */
    private ServiceRegistration<DeviceProvider> register(char tag, int ranking) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(DeviceProvider.TYPE, EchoDevice.TYPE);
        props.put(DeviceProvider.IMPLEMENTATION, String.valueOf(tag));
        props.put(Constants.SERVICE_RANKING, ranking);
        ServiceRegistration<DeviceProvider> r =
                context.registerService(DeviceProvider.class, EchoDevice.provider(tag, DELAY_MICROS), props);
        providers.add(r);
        return r;
    }

    /** Numbered requests and what came back for each: which implementation answered. */
    private static final class Ledger {
        final DriverQueue q;
        final Map<Integer, Integer> inFlight = new HashMap<>();
        final Map<Integer, Byte> completed = new HashMap<>();
        int next;

        Ledger(DriverQueue q) {
            this.q = q;
        }

        void offer(int n) {
            for (int i = 0; i < n; i++, next++)
                inFlight.put(q.add(List.of(ByteBuffer.allocate(4).putInt(next).array()), 8), next);
        }

        void send(int n) {
            offer(n);
            q.kick();
        }

        void drain() {
            while (!inFlight.isEmpty()) {
                DriverQueue.Completion c = q.await(TIMEOUT);
                Integer request = inFlight.remove(c.head());
                assertThat(request).as("completion of head %d belongs to a request in flight", c.head()).isNotNull();
                assertThat(c.length()).isEqualTo(5);
                assertThat(ByteBuffer.wrap(c.data(), 1, 4).getInt()).as("echo of request %d", request).isEqualTo(request);
                assertThat(completed.put(request, c.data()[0])).as("request %d completed twice", request).isNull();
            }
        }
    }
}
