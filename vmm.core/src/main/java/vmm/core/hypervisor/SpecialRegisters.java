package vmm.core.hypervisor;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * Segment, descriptor-table and control registers of a vCPU, EFER and the
 * APIC base: a mutable value read with {@link Vcpu#specialRegisters()},
 * changed, and written back with {@link Vcpu#setSpecialRegisters}. The
 * pending-interrupt bitmap the host keeps with them is carried through
 * unchanged. Not thread-safe.
 */
public final class SpecialRegisters {
    public enum Seg { CS, DS, ES, FS, GS, SS, TR, LDT }

    public static final long CR0_PE = 1L;
    public static final long CR0_ET = 1L << 4;
    public static final long CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5;
    public static final long EFER_LME = 1L << 8;
    public static final long EFER_LMA = 1L << 10;

    private final EnumMap<Seg, Segment> segments = new EnumMap<>(Seg.class);
    private DescriptorTable gdt = new DescriptorTable(0, 0xFFFF), idt = new DescriptorTable(0, 0xFFFF);
    private long cr0, cr2, cr3, cr4, cr8, efer, apicBase;
    private long[] interruptBitmap = new long[4];

    public SpecialRegisters() {
        for (Seg s : Seg.values()) segments.put(s, Segment.realMode(0, s == Seg.CS));
    }

    public Segment segment(Seg s) { return segments.get(s); }

    public SpecialRegisters segment(Seg s, Segment value) {
        segments.put(s, java.util.Objects.requireNonNull(value));
        return this;
    }

    /** Sets DS, ES, FS, GS and SS to {@code value}. */
    public SpecialRegisters dataSegments(Segment value) {
        for (Seg s : new Seg[] {Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS}) segment(s, value);
        return this;
    }

    public DescriptorTable gdt() { return gdt; }
    public SpecialRegisters gdt(DescriptorTable t) { gdt = t; return this; }
    public DescriptorTable idt() { return idt; }
    public SpecialRegisters idt(DescriptorTable t) { idt = t; return this; }
    public long cr0() { return cr0; }
    public SpecialRegisters cr0(long v) { cr0 = v; return this; }
    public long cr2() { return cr2; }
    public SpecialRegisters cr2(long v) { cr2 = v; return this; }
    public long cr3() { return cr3; }
    public SpecialRegisters cr3(long v) { cr3 = v; return this; }
    public long cr4() { return cr4; }
    public SpecialRegisters cr4(long v) { cr4 = v; return this; }
    public long cr8() { return cr8; }
    public SpecialRegisters cr8(long v) { cr8 = v; return this; }
    public long efer() { return efer; }
    public SpecialRegisters efer(long v) { efer = v; return this; }
    public long apicBase() { return apicBase; }
    public SpecialRegisters apicBase(long v) { apicBase = v; return this; }

    /** The host's 256-bit pending external interrupt bitmap, four little-endian words. */
    public long[] interruptBitmap() { return interruptBitmap.clone(); }

    public SpecialRegisters interruptBitmap(long[] words) {
        if (words.length != 4) throw new IllegalArgumentException("the interrupt bitmap is 4 words, got " + words.length);
        interruptBitmap = words.clone();
        return this;
    }

    /** A snapshot of the segment registers. */
    public Map<Seg, Segment> segments() {
        return Map.copyOf(segments);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpecialRegisters r && segments.equals(r.segments) && gdt.equals(r.gdt) && idt.equals(r.idt)
                && cr0 == r.cr0 && cr2 == r.cr2 && cr3 == r.cr3 && cr4 == r.cr4 && cr8 == r.cr8 && efer == r.efer
                && apicBase == r.apicBase && Arrays.equals(interruptBitmap, r.interruptBitmap);
    }

    @Override
    public int hashCode() {
        return segments.hashCode() * 31 + Long.hashCode(cr0 ^ cr3 ^ cr4 ^ efer);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        segments.forEach((k, v) -> s.append(String.format("%-3s %s%n", k.name().toLowerCase(), v)));
        s.append("gdt ").append(gdt).append('\n').append("idt ").append(idt).append('\n');
        s.append(String.format("cr0=%016x cr2=%016x cr3=%016x cr4=%016x%ncr8=%016x efer=%016x apic_base=%016x%n",
                cr0, cr2, cr3, cr4, cr8, efer, apicBase));
        return s.toString();
    }
}
