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
        f.put("irqchip", "no");
        f.put("ioeventfd", "yes");
        f.put("irqfd", "no");
        f.put("readonly-memory", "yes");
        f.put("modes", "real, protected, long");
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
