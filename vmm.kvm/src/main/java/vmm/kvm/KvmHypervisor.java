package vmm.kvm;

import static vmm.kvm.internal.abi.Kvm.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import vmm.core.hypervisor.Capabilities;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.kvm.internal.KvmSystem;
import vmm.kvm.internal.KvmVm;

/**
 * Linux KVM as a {@link Hypervisor}, with a {@link KvmVendor} for what differs
 * between CPU vendors. Opening checks the device, the API version and every
 * capability this binding uses, so a host that cannot run a VM says so here,
 * once. Thread-safe; {@link #close()} after every VM is closed.
 */
public final class KvmHypervisor implements Hypervisor, AutoCloseable {
    private final KvmSystem kvm;
    private final KvmVendor vendor;
    private final Capabilities capabilities;

    /**
     * Opens {@code /dev/kvm} for {@code vendor}.
     *
     * @throws HypervisorException if KVM is missing, inaccessible, too old, or the vendor does not serve this host;
     *                             the message says what to do
     */
    public KvmHypervisor(KvmVendor vendor) {
        this(vendor, KvmSystem.DEFAULT_PATH);
    }

    /** Opens the KVM device at {@code devicePath} (tests; hosts that put it elsewhere). */
    public KvmHypervisor(KvmVendor vendor, String devicePath) {
        this.vendor = vendor;
        this.kvm = KvmSystem.open(devicePath);
        try {
            String host = kvm.cpuVendorId();
            if (!vendor.supportsHost(host))
                throw new HypervisorException("the " + vendor.name() + " back end does not serve this host's CPU ("
                        + host + "); install the back end bundle for " + host);
            this.capabilities = new Capabilities("kvm/" + vendor.name(), host, features());
        } catch (RuntimeException e) {
            kvm.close();
            throw e;
        }
    }

    private Map<String, String> features() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("api-version", Integer.toString(KVM_API_VERSION));
        f.put("max-vcpus", Integer.toString(Math.max(kvm.checkExtension(KVM_CAP_MAX_VCPUS), kvm.checkExtension(KVM_CAP_NR_VCPUS))));
        f.put("memory-slots", Integer.toString(kvm.checkExtension(KVM_CAP_NR_MEMSLOTS)));
        f.put("gsi-routes", Integer.toString(kvm.checkExtension(KVM_CAP_IRQ_ROUTING)));
        f.put("readonly-memory", yesNo(KVM_CAP_READONLY_MEM));
        f.put("xsave", yesNo(KVM_CAP_XSAVE));
        f.put("irqchip", yesNo(KVM_CAP_IRQCHIP));
        f.put("ioeventfd", yesNo(KVM_CAP_IOEVENTFD));
        f.put("irqfd", yesNo(KVM_CAP_IRQFD));
        f.put("signal-msi", yesNo(KVM_CAP_SIGNAL_MSI));
        f.put("immediate-exit", yesNo(KVM_CAP_IMMEDIATE_EXIT));
        f.putAll(vendor.capabilities(kvm));
        return f;
    }

    private String yesNo(int cap) {
        return kvm.checkExtension(cap) > 0 ? "yes" : "no";
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    /** The leaves {@code KVM_GET_SUPPORTED_CPUID} lists, before the vendor's normalization. */
    public List<CpuidEntry> supportedCpuid() {
        return kvm.supportedCpuid();
    }

    /** The vendor part this hypervisor was opened with. */
    public KvmVendor vendor() {
        return vendor;
    }

    @Override
    public VirtualMachine createVm(GuestMemory memory, VmConfig config) {
        if (config.deterministic())
            throw new vmm.core.hypervisor.HypervisorException("a deterministic run needs the software CPU (vmm.emu): "
                    + "KVM runs the guest on the host's cores in real time, so its runs cannot be reproduced");
        return new KvmVm(kvm, vendor, memory, config);
    }

    @Override
    public void close() {
        kvm.close();
    }
}
