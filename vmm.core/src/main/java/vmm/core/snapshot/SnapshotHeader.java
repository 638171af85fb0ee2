package vmm.core.snapshot;

import java.time.Instant;

/**
 * The file header: which format version the file is in, which VMM wrote it and when.
 *
 * @param formatVersion the file format version, at most {@link SnapshotWriter#FORMAT_VERSION}
 * @param writtenBy     the writing VMM's name and version, e.g. {@code vmm 0.1.0}
 * @param created       when the writer started, to the millisecond
 */
public record SnapshotHeader(int formatVersion, String writtenBy, Instant created) {
}
