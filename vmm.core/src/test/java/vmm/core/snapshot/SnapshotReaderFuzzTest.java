package vmm.core.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Any file given to restore ({@code vmm run -r FILE}): whatever its bytes,
 * opening it, verifying every payload and restoring every memory section of
 * up to 1 MiB either succeeds or is one {@link SnapshotFormatException} of
 * one line, never another exception, a hang or an allocation the file's size
 * does not pay for. Seeds: valid files of every section kind, and the bad
 * files of {@link SnapshotReaderRefusesTest} that need a valid checksum.
 * The second target makes every checksum right before reading, as a fuzzer
 * would almost never find one by mutation.
 */
class SnapshotReaderFuzzTest {
    private static final long RESTORED = 1 << 20;

    @FuzzTest(maxDuration = "5m")
    void anyFileIsReadOrRefusedInOneLine(byte[] file) throws IOException {
        read(file);
    }

    /** The same with every checksum made right first, so that mutations reach the structure behind them. */
    @FuzzTest(maxDuration = "5m")
    void anyFileWithRightChecksumsIsReadOrRefusedInOneLine(byte[] file) throws IOException {
        read(RawSnapshot.withChecksumsFixed(file));
    }

    private static void read(byte[] file) throws IOException {
        try {
            SnapshotReader r = SnapshotReader.open(new MemoryChannel(file));
            r.verify();
            for (Section s : r.sections(SectionKind.MEMORY)) {
                long size = r.ramExtent(s).size();
                if (size <= RESTORED) r.restoreMemory(s, MemorySegment.ofArray(new byte[(int) size]));
            }
        } catch (SnapshotFormatException refused) {
            assertThat(refused.getMessage()).doesNotContain("\n", "\r", "\u2028", "\u2029");
        }
    }
}
