package vmm.kvm.vendor;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The MSRs of a vCPU's state that are the same on AMD and Intel, and the filter by what KVM can save. */
public final class CommonMsrs {
    /**
     * IA32_TSC, IA32_SPEC_CTRL, IA32_TSC_ADJUST, IA32_SYSENTER_CS/ESP/EIP,
     * IA32_MISC_ENABLE, IA32_PAT, IA32_MTRR_DEF_TYPE, IA32_TSC_DEADLINE.
     * TSC first: KVM derives the TSC offset from it, and TSC_ADJUST after it.
     */
    public static final List<Integer> ARCHITECTURAL = List.of(0x10, 0x48, 0x3B, 0x174, 0x175, 0x176, 0x1A0, 0x277, 0x2FF, 0x6E0);
    /** IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK, IA32_KERNEL_GS_BASE, IA32_TSC_AUX. */
    public static final List<Integer> SYSCALL = List.of(0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000102, 0xC0000103);
    /**
     * KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst): MSR_KVM_WALL_CLOCK_NEW,
     * MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_ASYNC_PF_EN, MSR_KVM_STEAL_TIME, MSR_KVM_PV_EOI_EN,
     * MSR_KVM_POLL_CONTROL, MSR_KVM_ASYNC_PF_INT.
     */
    public static final List<Integer> KVM_PARAVIRT = List.of(0x4B564D00, 0x4B564D01, 0x4B564D02, 0x4B564D03, 0x4B564D04,
            0x4B564D05, 0x4B564D06);

    private CommonMsrs() {}

    /** The MTRR range (IA32_MTRR_PHYSBASE0 to IA32_MTRR_DEF_TYPE, IA32_PAT among them): KVM saves these but lists only PAT. */
    public static final int MTRR_FIRST = 0x200, MTRR_LAST = 0x2FF;

    /**
     * {@code wanted} in its order, less the MSRs missing from KVM's {@code KVM_GET_MSR_INDEX_LIST}
     * answer (the MTRRs excepted, see {@link #MTRR_FIRST}).
     */
    public static List<Integer> savable(List<Integer> wanted, List<Integer> kvmIndexList) {
        Set<Integer> kvm = new HashSet<>(kvmIndexList);
        return wanted.stream().filter(m -> kvm.contains(m) || (m >= MTRR_FIRST && m <= MTRR_LAST)).toList();
    }

    /** {@code count} consecutive MSR numbers from {@code first}. */
    public static List<Integer> range(int first, int count) {
        Integer[] out = new Integer[count];
        for (int i = 0; i < count; i++) out[i] = first + i;
        return List.of(out);
    }
}
