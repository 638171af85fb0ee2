package vmm.core.snapshot;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/** The constants of the file format (the tables are in the package documentation) and checks both sides share. */
final class SnapshotFormat {
    /** "VMM-SNAP" */
    static final long MAGIC = 0x564d4d2d534e4150L;
    /** "END " */
    static final int END_TAG = 0x454e4420;
    static final int HEADER_FIXED = 8 + 4 + 8 + 2;
    static final int SECTION_FIXED = 4 + 4 + 8 + 2;
    static final int END_LENGTH = 4 + 4 + 4;
    static final int CRC_LENGTH = 4;
    static final int MAX_TEXT = 255;
    static final int PAGE_SIZE = 4096;
    static final int PAGE_SHIFT = 12;
    /** The memory payload's prefix: guest base and size. */
    static final int RAM_PREFIX = 16;
    static final int RUN_HEADER = 8;
    /** The most pages one run may count: positive as an {@code int}. */
    static final int MAX_RUN = Integer.MAX_VALUE;
    /** The largest state payload a reader loads into the heap. */
    static final int MAX_STATE = 64 << 20;
    /** The most bytes moved in one channel operation while streaming memory. */
    static final int CHUNK = 1 << 20;
    static final MemorySegment ZERO_CHUNK = MemorySegment.ofArray(new byte[CHUNK]);

    private SnapshotFormat() {
    }

    /** {@code s}, if fit to be a name in the file: 1 to 255 UTF-8 bytes (0 where {@code mayBeEmpty}), one line. */
    static String checkText(String what, String s, boolean mayBeEmpty) {
        String problem = textProblem(s.getBytes(StandardCharsets.UTF_8).length, s, mayBeEmpty);
        if (problem != null)
            throw new IllegalArgumentException(what + " '" + s.replaceAll("\\p{Cntrl}", "?") + "' " + problem);
        return s;
    }

    /** Why {@code s} (of {@code utf8Length} bytes) is not a valid name, or null. */
    static String textProblem(int utf8Length, String s, boolean mayBeEmpty) {
        if (utf8Length == 0 && !mayBeEmpty) return "is empty";
        if (utf8Length > MAX_TEXT) return "is longer than " + MAX_TEXT + " bytes";
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') return "holds a control character";
        }
        return null;
    }
}
