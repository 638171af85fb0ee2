package vmm.itest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import org.osgi.framework.BundleContext;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

import vmm.core.irq.IrqChip;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.machine.Machine;
import vmm.testing.HangGuard;
import vmm.testing.InterruptRecorder;
import vmm.testing.TestMachine;

/**
 * A machine assembled the way the product assembles one: an interrupt
 * controller service (here the kit's {@link InterruptRecorder}), a
 * {@code vmm.machine} configuration for the core's machine component, and
 * one {@code vmm.device} factory configuration per device. The tests then
 * drive the devices through the kit, exactly as unit tests do.
 */
final class FrameworkMachine implements AutoCloseable {
    static final Duration TIMEOUT = HangGuard.BOUND;

    private final BundleContext context;
    private final ConfigurationAdmin cm;
    private final InterruptRecorder interrupts = new InterruptRecorder();
    private final ServiceRegistration<IrqChip> irqChip;
    private final Configuration machineConfig;
    private final List<Configuration> devices = new ArrayList<>();
    private final Machine machine;
    private final TestMachine kit;

    private FrameworkMachine(BundleContext context, ConfigurationAdmin cm, String memorySize) throws Exception {
        this.context = context;
        this.cm = cm;
        irqChip = context.registerService(IrqChip.class, interrupts, null);
        machineConfig = cm.getConfiguration("vmm.machine", "?");
        machineConfig.update(dictionary(Map.of("memory.size", memorySize)));
        machine = awaitService(Machine.class, "(objectClass=" + Machine.class.getName() + ")", m -> true);
        kit = TestMachine.attach(machine, interrupts);
    }

    /** Starts a machine with the given RAM size (bhyve's -m syntax). */
    static FrameworkMachine start(BundleContext context, ConfigurationAdmin cm, String memorySize) throws Exception {
        return new FrameworkMachine(context, cm, memorySize);
    }

    Machine machine() { return machine; }
    InterruptRecorder interrupts() { return interrupts; }
    TestMachine kit() { return kit; }

    /** Creates the device instance {@code vmm.device~name} with these properties. */
    Configuration device(String name, Map<String, Object> properties) throws Exception {
        Configuration c = cm.getFactoryConfiguration("vmm.device", name, "?");
        c.update(dictionary(properties));
        devices.add(c);
        return c;
    }

    /** Waits until the instance {@code vmm.device~name} is published and satisfies {@code condition}. */
    DeviceInstanceInfo awaitDevice(String name, Predicate<DeviceInstanceInfo> condition) {
        return awaitService(DeviceInstanceInfo.class, "(service.pid=vmm.device~" + name + ")", condition);
    }

    /** Waits for a service matching {@code filter} that satisfies {@code condition}; fails after {@link #TIMEOUT}. */
    <S> S awaitService(Class<S> type, String filter, Predicate<S> condition) {
        Filter f;
        try {
            f = FrameworkUtil.createFilter("(&(objectClass=" + type.getName() + ")" + filter + ")");
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(e);
        }
        ServiceTracker<S, S> tracker = new ServiceTracker<>(context, f, null);
        tracker.open();
        try {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                S s = tracker.getService();
                if (s != null && condition.test(s)) return s;
                Thread.sleep(5);
            }
            throw new AssertionError("no " + type.getSimpleName() + " matching " + filter
                    + " met the condition within " + TIMEOUT + "; last seen: " + tracker.getService());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } finally {
            tracker.close();
        }
    }

    /** Waits until no service matching {@code filter} remains. */
    void awaitNoService(String filter) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (context.getServiceReferences((String) null, filter) != null) {
            if (System.nanoTime() > deadline) throw new AssertionError("a service matching " + filter + " is still there");
            Thread.sleep(5);
        }
    }

    /** Deletes the device and machine configurations, waits for the machine to go, withdraws the interrupt controller. */
    @Override
    public void close() throws Exception {
        try {
            for (Configuration c : devices) {
                try {
                    c.delete();
                } catch (IllegalStateException alreadyDeleted) {
                    // the test deleted it itself
                }
            }
            machineConfig.delete();
            awaitNoService("(objectClass=" + Machine.class.getName() + ")");
        } finally {
            irqChip.unregister();
        }
    }

    static Dictionary<String, Object> dictionary(Map<String, Object> map) {
        return new Hashtable<>(map);
    }
}
