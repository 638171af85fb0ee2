package vmm.core.hypervisor;

/**
 * A segment register with its hidden descriptor cache, as the CPU holds it.
 *
 * @param base     linear base address
 * @param limit    byte-granular limit (already scaled when {@code granularity} is set)
 * @param selector the visible selector
 * @param type     descriptor type (4 bits; for code/data, bit 3 = code, bit 1 = readable/writable, bit 0 = accessed)
 * @param present  P bit
 * @param dpl      privilege level 0..3
 * @param db       D/B bit: 32-bit default operand size
 * @param s        S bit: code or data (true) or system (false)
 * @param l        L bit: 64-bit code
 * @param granularity G bit
 * @param avl      AVL bit
 * @param unusable the segment is unusable (a null selector in protected mode)
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl, boolean db,
                      boolean s, boolean l, boolean granularity, boolean avl, boolean unusable) {

    /** A real-mode segment: base = selector × 16, 64 KiB limit, present, read/write (type 3, or 0xb for code). */
    public static Segment realMode(int selector, boolean code) {
        return new Segment((long) selector << 4, 0xFFFF, selector, code ? 0xB : 0x3, true, 0, false, true, false,
                false, false, false);
    }

    /** A flat 4 GiB 32-bit protected-mode segment at ring 0: code (type 0xb) or data (type 3). */
    public static Segment flat32(int selector, boolean code) {
        return new Segment(0, 0xFFFFFFFF, selector, code ? 0xB : 0x3, true, 0, true, true, false, true, false, false);
    }

    /** A 64-bit ring-0 code segment (L set, D clear). */
    public static Segment code64(int selector) {
        return new Segment(0, 0xFFFFFFFF, selector, 0xB, true, 0, false, true, true, true, false, false);
    }

    @Override
    public String toString() {
        return String.format("sel=%04x base=%016x limit=%08x type=%x%s%s dpl=%d%s%s%s", selector, base, limit, type,
                present ? " p" : "", s ? " s" : "", dpl, db ? " db" : "", l ? " l" : "", granularity ? " g" : "")
                + (unusable ? " unusable" : "");
    }
}
