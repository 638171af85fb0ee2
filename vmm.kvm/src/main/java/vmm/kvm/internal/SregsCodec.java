package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import vmm.core.hypervisor.DescriptorTable;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.kvm.internal.abi.KvmStructs;

/** Converts between {@code struct kvm_sregs} and {@link SpecialRegisters}. */
final class SregsCodec {
    private static final String[] CONTROL = {"cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base"};

    private SregsCodec() {}

    private static long off(String... path) {
        var elements = new java.lang.foreign.MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) elements[i] = groupElement(path[i]);
        return KvmStructs.KVM_SREGS.byteOffset(elements);
    }

    private static String name(SpecialRegisters.Seg s) {
        return s.name().toLowerCase();
    }

    static SpecialRegisters decode(MemorySegment s) {
        SpecialRegisters r = new SpecialRegisters();
        for (SpecialRegisters.Seg seg : SpecialRegisters.Seg.values()) {
            long o = off(name(seg));
            r.segment(seg, new Segment(
                    s.get(ValueLayout.JAVA_LONG, o + field("base")),
                    s.get(ValueLayout.JAVA_INT, o + field("limit")),
                    Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, o + field("selector"))),
                    u8(s, o + field("type")), u8(s, o + field("present")) != 0, u8(s, o + field("dpl")),
                    u8(s, o + field("db")) != 0, u8(s, o + field("s")) != 0, u8(s, o + field("l")) != 0,
                    u8(s, o + field("g")) != 0, u8(s, o + field("avl")) != 0, u8(s, o + field("unusable")) != 0));
        }
        r.gdt(table(s, off("gdt")));
        r.idt(table(s, off("idt")));
        r.cr0(s.get(ValueLayout.JAVA_LONG, off("cr0")));
        r.cr2(s.get(ValueLayout.JAVA_LONG, off("cr2")));
        r.cr3(s.get(ValueLayout.JAVA_LONG, off("cr3")));
        r.cr4(s.get(ValueLayout.JAVA_LONG, off("cr4")));
        r.cr8(s.get(ValueLayout.JAVA_LONG, off("cr8")));
        r.efer(s.get(ValueLayout.JAVA_LONG, off("efer")));
        r.apicBase(s.get(ValueLayout.JAVA_LONG, off("apic_base")));
        long[] bitmap = new long[4];
        for (int i = 0; i < 4; i++) bitmap[i] = s.get(ValueLayout.JAVA_LONG, off("interrupt_bitmap") + 8L * i);
        r.interruptBitmap(bitmap);
        return r;
    }

    static void encode(SpecialRegisters r, MemorySegment s) {
        s.fill((byte) 0);
        for (SpecialRegisters.Seg seg : SpecialRegisters.Seg.values()) {
            long o = off(name(seg));
            Segment v = r.segment(seg);
            s.set(ValueLayout.JAVA_LONG, o + field("base"), v.base());
            s.set(ValueLayout.JAVA_INT, o + field("limit"), v.limit());
            s.set(ValueLayout.JAVA_SHORT, o + field("selector"), (short) v.selector());
            s.set(ValueLayout.JAVA_BYTE, o + field("type"), (byte) v.type());
            s.set(ValueLayout.JAVA_BYTE, o + field("present"), bit(v.present()));
            s.set(ValueLayout.JAVA_BYTE, o + field("dpl"), (byte) v.dpl());
            s.set(ValueLayout.JAVA_BYTE, o + field("db"), bit(v.db()));
            s.set(ValueLayout.JAVA_BYTE, o + field("s"), bit(v.s()));
            s.set(ValueLayout.JAVA_BYTE, o + field("l"), bit(v.l()));
            s.set(ValueLayout.JAVA_BYTE, o + field("g"), bit(v.granularity()));
            s.set(ValueLayout.JAVA_BYTE, o + field("avl"), bit(v.avl()));
            s.set(ValueLayout.JAVA_BYTE, o + field("unusable"), bit(v.unusable()));
        }
        putTable(s, off("gdt"), r.gdt());
        putTable(s, off("idt"), r.idt());
        long[] control = {r.cr0(), r.cr2(), r.cr3(), r.cr4(), r.cr8(), r.efer(), r.apicBase()};
        for (int i = 0; i < CONTROL.length; i++) s.set(ValueLayout.JAVA_LONG, off(CONTROL[i]), control[i]);
        long[] bitmap = r.interruptBitmap();
        for (int i = 0; i < 4; i++) s.set(ValueLayout.JAVA_LONG, off("interrupt_bitmap") + 8L * i, bitmap[i]);
    }

    private static long field(String name) {
        return KvmStructs.KVM_SEGMENT.byteOffset(groupElement(name));
    }

    private static int u8(MemorySegment s, long o) {
        return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, o));
    }

    private static byte bit(boolean b) {
        return (byte) (b ? 1 : 0);
    }

    private static DescriptorTable table(MemorySegment s, long o) {
        return new DescriptorTable(s.get(ValueLayout.JAVA_LONG, o + KvmStructs.KVM_DTABLE.byteOffset(groupElement("base"))),
                Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, o + KvmStructs.KVM_DTABLE.byteOffset(groupElement("limit")))));
    }

    private static void putTable(MemorySegment s, long o, DescriptorTable t) {
        s.set(ValueLayout.JAVA_LONG, o + KvmStructs.KVM_DTABLE.byteOffset(groupElement("base")), t.base());
        s.set(ValueLayout.JAVA_SHORT, o + KvmStructs.KVM_DTABLE.byteOffset(groupElement("limit")), (short) t.limit());
    }
}
