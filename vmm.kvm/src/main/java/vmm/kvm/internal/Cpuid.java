package vmm.kvm.internal;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

import vmm.kvm.CpuidEntry;
import vmm.kvm.internal.abi.KvmStructs;

/** Reads and writes arrays of {@code struct kvm_cpuid_entry2}. */
final class Cpuid {
    private static final VarHandle FUNCTION = h("function"), INDEX = h("index"), FLAGS = h("flags"),
            EAX = h("eax"), EBX = h("ebx"), ECX = h("ecx"), EDX = h("edx");
    private static final long SIZE = KvmStructs.KVM_CPUID_ENTRY2.byteSize();

    private Cpuid() {}

    private static VarHandle h(String name) {
        return KvmStructs.KVM_CPUID_ENTRY2.varHandle(PathElement.groupElement(name));
    }

    static List<CpuidEntry> read(MemorySegment entries, int count) {
        List<CpuidEntry> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            MemorySegment e = entries.asSlice(i * SIZE, SIZE);
            out.add(new CpuidEntry((int) FUNCTION.get(e, 0L), (int) INDEX.get(e, 0L), (int) FLAGS.get(e, 0L),
                    (int) EAX.get(e, 0L), (int) EBX.get(e, 0L), (int) ECX.get(e, 0L), (int) EDX.get(e, 0L)));
        }
        return out;
    }

    static void write(MemorySegment entries, List<CpuidEntry> list) {
        for (int i = 0; i < list.size(); i++) {
            CpuidEntry c = list.get(i);
            MemorySegment e = entries.asSlice(i * SIZE, SIZE);
            e.fill((byte) 0);
            FUNCTION.set(e, 0L, c.function());
            INDEX.set(e, 0L, c.index());
            FLAGS.set(e, 0L, c.flags());
            EAX.set(e, 0L, c.eax());
            EBX.set(e, 0L, c.ebx());
            ECX.set(e, 0L, c.ecx());
            EDX.set(e, 0L, c.edx());
        }
    }
}
