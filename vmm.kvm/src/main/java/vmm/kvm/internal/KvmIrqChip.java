package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static vmm.kvm.internal.abi.Kvm.*;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.kvm.internal.abi.KvmStructs;
import vmm.kvm.internal.linux.Sys;
import vmm.kvm.internal.linux.SysException;

/**
 * The in-kernel PIC/IOAPIC/LAPIC as the core's {@link IrqChip}: GSI levels by
 * {@code KVM_IRQ_LINE}, MSIs by {@code KVM_SIGNAL_MSI}. Thread-safe (each call
 * is one ioctl on its own buffer).
 */
final class KvmIrqChip implements IrqChip {
    private static final System.Logger LOG = System.getLogger("vmm.kvm");
    private static final VarHandle IRQ = KvmStructs.KVM_IRQ_LEVEL.varHandle(groupElement("irq"));
    private static final VarHandle LEVEL = KvmStructs.KVM_IRQ_LEVEL.varHandle(groupElement("level"));
    private static final VarHandle ADDR_LO = KvmStructs.KVM_MSI.varHandle(groupElement("address_lo"));
    private static final VarHandle ADDR_HI = KvmStructs.KVM_MSI.varHandle(groupElement("address_hi"));
    private static final VarHandle DATA = KvmStructs.KVM_MSI.varHandle(groupElement("data"));

    private final int vmFd;
    private final int maxGsi;

    KvmIrqChip(int vmFd, int maxGsi) {
        this.vmFd = vmFd;
        this.maxGsi = maxGsi;
    }

    @Override
    public void setLevel(int gsi, boolean level) {
        if (gsi < 0 || gsi >= maxGsi) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_IRQ_LEVEL);
            IRQ.set(s, 0L, gsi);
            LEVEL.set(s, 0L, level ? 1 : 0);
            Sys.ioctl(vmFd, KVM_IRQ_LINE, s, "KVM_IRQ_LINE");
        } catch (SysException e) {
            LOG.log(Level.WARNING, () -> "GSI " + gsi + ": " + e.getMessage());
        }
    }

    @Override
    public void signalMsi(MsiMessage message) {
        if (!message.isX86Valid()) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_MSI);
            ADDR_LO.set(s, 0L, (int) message.address());
            ADDR_HI.set(s, 0L, (int) (message.address() >>> 32));
            DATA.set(s, 0L, message.data());
            // 0 means the guest masked or blocked it, which is the guest's business.
            Sys.ioctl(vmFd, KVM_SIGNAL_MSI, s, "KVM_SIGNAL_MSI");
        } catch (SysException e) {
            LOG.log(Level.WARNING, () -> message + ": " + e.getMessage());
        }
    }
}
