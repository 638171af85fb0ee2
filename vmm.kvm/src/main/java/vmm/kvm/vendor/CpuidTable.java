package vmm.kvm.vendor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

import vmm.kvm.CpuidEntry;

/**
 * A CPUID table being normalized: leaves keyed by (function, index), in the
 * order they were first added. Not thread-safe; one per vCPU being built.
 */
public final class CpuidTable {
    private final Map<Long, CpuidEntry> entries = new LinkedHashMap<>();

    private CpuidTable() {}

    /** A table holding {@code entries}; a later duplicate of a (function, index) replaces the earlier one. */
    public static CpuidTable of(List<CpuidEntry> entries) {
        CpuidTable t = new CpuidTable();
        for (CpuidEntry e : entries) t.put(e);
        return t;
    }

    private static long key(int function, int index) {
        return (long) function << 32 | Integer.toUnsignedLong(index);
    }

    /** The entry for {@code function}, subleaf {@code index}. */
    public Optional<CpuidEntry> get(int function, int index) {
        return Optional.ofNullable(entries.get(key(function, index)));
    }

    /** Whether any subleaf of {@code function} is present. */
    public boolean has(int function) {
        return entries.values().stream().anyMatch(e -> e.function() == function);
    }

    /** Adds or replaces the entry with {@code e}'s function and index. */
    public CpuidTable put(CpuidEntry e) {
        entries.put(key(e.function(), e.index()), e);
        return this;
    }

    /** Replaces every subleaf of {@code function} with what {@code change} makes of it. */
    public CpuidTable update(int function, UnaryOperator<CpuidEntry> change) {
        entries.replaceAll((k, e) -> e.function() == function ? change.apply(e) : e);
        return this;
    }

    /** Removes every subleaf of {@code function}. */
    public CpuidTable remove(int function) {
        entries.values().removeIf(e -> e.function() == function);
        return this;
    }

    /** The entries, in first-added order. */
    public List<CpuidEntry> entries() {
        return List.copyOf(entries.values());
    }

    /** The 12-character vendor string of leaf 0 (EBX, EDX, ECX), or {@code "unknown"} without leaf 0. */
    public String vendorId() {
        return get(0, 0).map(CpuidTable::vendorId).orElse("unknown");
    }

    /** The vendor string a leaf 0 or 0x80000000 entry spells in EBX, EDX, ECX. */
    public static String vendorId(CpuidEntry leaf) {
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(leaf.ebx()).putInt(leaf.edx()).putInt(leaf.ecx());
        return new String(b.array(), StandardCharsets.US_ASCII);
    }

    /** Bits {@code [hi:lo]} of {@code value}. */
    public static int bits(int value, int hi, int lo) {
        return (int) ((Integer.toUnsignedLong(value) >>> lo) & ((1L << (hi - lo + 1)) - 1));
    }

    /** {@code value} with bits {@code [hi:lo]} replaced by {@code field}. */
    public static int withBits(int value, int hi, int lo, int field) {
        int mask = (int) (((1L << (hi - lo + 1)) - 1) << lo);
        return (value & ~mask) | ((field << lo) & mask);
    }

    @Override
    public String toString() {
        List<String> s = new ArrayList<>();
        for (CpuidEntry e : entries.values()) s.add(e.toString());
        return String.join("\n", s);
    }
}
