package vmm.emu.internal.vm;

import java.util.LinkedHashMap;
import java.util.Map;

import vmm.core.hypervisor.Capabilities;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;

/** The software CPU as a {@link Hypervisor}: needs nothing from the host but a JVM. Thread-safe. */
public final class EmuHypervisor implements Hypervisor {
    public static final String BACK_END = "emu";

    private final Capabilities capabilities;

    public EmuHypervisor() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("cpu", "software x86 (vmm.emu)");
        f.put("modes", "real, protected, long");
        f.put("max-vcpus", "255");
        f.put("irqchip", "yes (PIC, IOAPIC, LAPIC, PIT in Java)");
        f.put("ioeventfd", "yes");
        f.put("irqfd", "yes");
        f.put("signal-msi", "yes");
        f.put("readonly-memory", "yes");
        capabilities = new Capabilities(BACK_END, "AuthenticAMD", f);
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public VirtualMachine createVm(GuestMemory memory, VmConfig config) {
        return new EmuVm(memory, config);
    }
}
