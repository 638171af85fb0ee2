package vmm.testing;

import java.util.HashMap;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcPlatform;
import vmm.core.platform.PowerControl;

/**
 * A machine without a CPU: real guest memory, buses and PCI from the core,
 * an {@link InterruptRecorder} in place of the interrupt controller, a
 * firmware-like {@link PciHarness} and an allocator for driver structures.
 * A test plugs devices, then drives them with {@link #virtio(PciAddress)}.
 * Close it to stop the devices and free guest memory.
 */
public final class TestMachine implements AutoCloseable {
    /** Default guest RAM: enough for rings and buffers of many requests. */
    public static final long DEFAULT_MEMORY = 16L << 20;
    /** Driver structures are allocated from here up; below is left for tests to use by address. */
    public static final long ALLOCATOR_BASE = 1L << 20;

    private final Machine machine;
    private final InterruptRecorder interrupts;
    private final GuestAllocator allocator;
    private final PciHarness pci;
    private final Map<PciAddress, PciHarness.Function> assigned = new HashMap<>();
    private final boolean borrowed;

    private TestMachine(Machine machine, InterruptRecorder interrupts, boolean borrowed) {
        this.machine = machine;
        this.interrupts = interrupts;
        this.borrowed = borrowed;
        long top = machine.memory().regions().getLast().guestEnd();
        this.allocator = new GuestAllocator(machine.memory(), Math.min(ALLOCATOR_BASE, top / 2), top);
        this.pci = new PciHarness(machine.pci());
    }

    private static TestMachine over(GuestMemory memory) {
        InterruptRecorder r = new InterruptRecorder();
        return new TestMachine(new Machine(memory, r), r, false);
    }

    /** A machine with {@link #DEFAULT_MEMORY} of RAM at address 0. */
    public static TestMachine create() {
        return create(DEFAULT_MEMORY);
    }

    /** A machine with {@code ramBytes} of RAM at address 0. */
    public static TestMachine create(long ramBytes) {
        return over(GuestMemory.ofSize(ramBytes));
    }

    /** A machine over a memory layout the test built (for example two adjacent regions). */
    public static TestMachine create(GuestMemory memory) {
        return over(memory);
    }

    /**
     * A machine over memory and buses someone else assembled (inside an
     * OSGi framework, the core's machine service), recording on {@code interrupts}
     * — which must be that machine's interrupt controller.
     */
    public static TestMachine attach(Machine machine, InterruptRecorder interrupts) {
        return new TestMachine(machine, interrupts, true);
    }

    public Machine machine() { return machine; }
    public InterruptRecorder interrupts() { return interrupts; }
    public GuestMemory memory() { return machine.memory(); }
    public GuestAllocator allocator() { return allocator; }
    public PciHarness pci() { return pci; }

    /** Plugs a device of {@code type} at {@code address}, served by {@code provider} under the name "impl". */
    public DeviceInstance plug(String type, PciAddress address, DeviceProvider provider) {
        return plug(type, address, provider, "impl", Map.of());
    }

    /**
     * Plugs a device with an implementation name and configuration. Unless the configuration sets
     * {@link DeviceInstance#SWAP_WAIT_MS}, guest accesses wait for a swap up to {@link HangGuard#BOUND} rather than the
     * VMM's 2 s, so a swap test on a loaded machine never sees an access answered as unclaimed; set it to test that.
     */
    public DeviceInstance plug(String type, PciAddress address, DeviceProvider provider, String implementation,
                               Map<String, Object> configuration) {
        return machine.plug(type + "@" + address, type, address, withSwapWait(configuration), implementation, provider);
    }

    private static Map<String, Object> withSwapWait(Map<String, Object> configuration) {
        if (configuration.containsKey(DeviceInstance.SWAP_WAIT_MS)) return configuration;
        Map<String, Object> c = new java.util.HashMap<>(configuration);
        c.put(DeviceInstance.SWAP_WAIT_MS, HangGuard.BOUND.toMillis());
        return Map.copyOf(c);
    }

    /**
     * Plugs the device provider {@code component} as its bundle declares it ({@link DeclaredProvider}: the type and
     * implementation from its DS description), at {@code address} (null for a device on the port or MMIO bus), as
     * instance {@code instanceId}.
     *
     * @throws AssertionError when the class's DS declaration would not reach the core
     */
    public DeviceInstance plug(String instanceId, Class<? extends DeviceProvider> component, PciAddress address,
                               Map<String, Object> configuration) {
        DeclaredProvider d = DeclaredProvider.of(component);
        return machine.plug(instanceId, d.type(), address, withSwapWait(configuration), d.implementation(), d.provider());
    }

    /**
     * Installs the PC chipset on this machine ({@link PcPlatform}: PCI configuration ports, fw_cfg, CMOS, the
     * i8042, the ACPI PM block, the debug ports), as a real VM has it, so that a device whose ports collide with
     * them fails to plug here as it would there. Call before plugging. Returns this machine.
     */
    public TestMachine withPcChipset() {
        PcPlatform.install(machine, 1, new PowerControl() {
            @Override public void powerOff(String how) { }
            @Override public void reset(String how) { }
        }, line -> { });
        return this;
    }

    /** Assigns the function's resources (once) and returns a driver for it, not yet initialized. */
    public VirtioDriver virtio(PciAddress address) {
        return new VirtioDriver(this, assigned.computeIfAbsent(address, pci::assign));
    }

    /** Stops every device and frees guest memory (unless the machine belongs to someone else). */
    @Override
    public void close() {
        if (!borrowed) machine.close();
    }
}
