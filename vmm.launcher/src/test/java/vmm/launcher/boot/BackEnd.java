package vmm.launcher.boot;

import vmm.core.hypervisor.Hypervisor;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.kvm.KvmHypervisor;

/**
 * A CPU back end a boot test runs its machine on, by the name {@code --accel} takes: {@code kvm} (the host's
 * KVM device, skipped where there is none, see {@link HostKvm}) or {@code emu} (vmm.emu's software CPU, present
 * on every host). Tests parameterized over both check on a host without KVM what they check with it.
 */
public final class BackEnd implements AutoCloseable {
    public static final String KVM = "kvm", EMU = "emu";

    private final Hypervisor hypervisor;
    private final AutoCloseable owned;

    private BackEnd(Hypervisor hypervisor, AutoCloseable owned) {
        this.hypervisor = hypervisor;
        this.owned = owned;
    }

    /** Opens the back end {@code accel} names, or skips the test where this host lacks it; the caller closes it. */
    public static BackEnd open(String accel) {
        return switch (accel) {
            case KVM -> {
                KvmHypervisor kvm = HostKvm.open();
                yield new BackEnd(kvm, kvm);
            }
            case EMU -> new BackEnd(new EmuHypervisor(), null);
            default -> throw new IllegalArgumentException("no back end " + accel);
        };
    }

    /** Skips the test where this host cannot run guests on {@code accel}. */
    public static void require(String accel) {
        if (accel.equals(KVM)) HostKvm.require();
    }

    public Hypervisor hypervisor() {
        return hypervisor;
    }

    @Override
    public void close() throws Exception {
        if (owned != null) owned.close();
    }
}
