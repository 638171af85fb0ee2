package vmm.core.machine;

import java.util.Locale;

/** Parses memory sizes the way bhyve's {@code -m} does: a number with an optional K, M, G or T suffix (powers of 1024). */
public final class MemorySize {
    private MemorySize() {}

    /**
     * Parses {@code text}; a bare number is bytes.
     *
     * @throws IllegalArgumentException naming the text when it is empty, negative, zero, malformed or overflows
     */
    public static long parse(String text) {
        String t = text == null ? "" : text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) t = t.substring(0, t.length() - 1);
        if (t.isEmpty()) throw new IllegalArgumentException("empty memory size");
        int shift = switch (t.charAt(t.length() - 1)) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? t : t.substring(0, t.length() - 1);
        if (!digits.matches("\\d{1,19}")) throw new IllegalArgumentException("malformed memory size '" + text + "': expected a number with an optional K, M, G or T suffix");
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("memory size '" + text + "' is too large");
        }
        if (n == 0) throw new IllegalArgumentException("memory size '" + text + "' is zero");
        if (n > (Long.MAX_VALUE >> shift)) throw new IllegalArgumentException("memory size '" + text + "' is too large");
        return n << shift;
    }
}
