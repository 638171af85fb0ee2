package vmm.kvm;

/**
 * One CPUID leaf (and subleaf) as KVM lists it ({@code struct kvm_cpuid_entry2}).
 *
 * @param function the leaf (EAX input)
 * @param index    the subleaf (ECX input); meaningful when {@link #FLAG_SIGNIFICANT_INDEX} is set
 * @param flags    KVM's flags, {@link #FLAG_SIGNIFICANT_INDEX}
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** {@code KVM_CPUID_FLAG_SIGNIFCANT_INDEX} (sic): the subleaf selects this entry. */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    public CpuidEntry withEax(int v) { return new CpuidEntry(function, index, flags, v, ebx, ecx, edx); }
    public CpuidEntry withEbx(int v) { return new CpuidEntry(function, index, flags, eax, v, ecx, edx); }
    public CpuidEntry withEcx(int v) { return new CpuidEntry(function, index, flags, eax, ebx, v, edx); }
    public CpuidEntry withEdx(int v) { return new CpuidEntry(function, index, flags, eax, ebx, ecx, v); }

    @Override
    public String toString() {
        return String.format("cpuid[%08x.%x] eax=%08x ebx=%08x ecx=%08x edx=%08x", function, index, eax, ebx, ecx, edx);
    }
}
