package vmm.core.snapshot;

/**
 * A snapshot file that cannot be read: foreign (bad magic), of a newer format
 * version, truncated, corrupt (a checksum or a structure that does not add
 * up), or holding a section kind or version this build does not read. The
 * message is one line naming what is wrong, the file offset and, where there
 * is one, the section.
 */
public class SnapshotFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final long offset;
    private final String section;

    /**
     * @param problem what is wrong, one line
     * @param offset  the file offset where it was found
     * @param section the section it was found in ({@link Section#describe()}), or null for the header and end marker
     */
    public SnapshotFormatException(String problem, long offset, String section) {
        super("snapshot: " + problem + " at offset " + offset + (section == null ? "" : " in section " + section));
        this.offset = offset;
        this.section = section;
    }

    /** The file offset where the problem was found. */
    public long offset() {
        return offset;
    }

    /** The section the problem was found in, or null for the file header and the end marker. */
    public String section() {
        return section;
    }
}
