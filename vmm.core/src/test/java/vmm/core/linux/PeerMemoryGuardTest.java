package vmm.core.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

/** What {@link Native#guardPeerMemory} makes of the memory files a peer may send. */
class PeerMemoryGuardTest {
    private static final long SIZE = 1 << 20;

    @Test
    void aSealableFileIsSealedAgainstShrinkingSoThePeerCanNoLongerShrinkIt() throws Exception {
        int fd = Native.memfd("peer", SIZE, Native.MFD_CLOEXEC | Native.MFD_ALLOW_SEALING);
        try {
            assertThat(Native.guardPeerMemory(fd, SIZE)).isTrue();
            assertThat(Native.seals(fd) & Native.F_SEAL_SHRINK).isNotZero();
            assertThatThrownBy(() -> Native.truncate(fd, 4096)).hasMessageContaining("Operation not permitted");
        } finally {
            Native.close(fd);
        }
    }

    @Test
    void aFileAlreadySealedAgainstShrinkingIsTakenAsItIs() throws Exception {
        int fd = Native.memfd("qemu-like", SIZE, Native.MFD_CLOEXEC | Native.MFD_ALLOW_SEALING);
        try {
            assertThat(Native.addSeals(fd, Native.F_SEAL_SHRINK | Native.F_SEAL_GROW | Native.F_SEAL_SEAL)).isTrue();
            assertThat(Native.guardPeerMemory(fd, SIZE)).isTrue();
        } finally {
            Native.close(fd);
        }
    }

    @Test
    void aFileThatCannotBeSealedIsReportedSoAndStillSizeChecked() throws Exception {
        // A memfd without MFD_ALLOW_SEALING is born with F_SEAL_SEAL, as user-mode Linux's tmpfs memory file is.
        int fd = Native.memfd("uml-like", SIZE, Native.MFD_CLOEXEC);
        try {
            assertThat(Native.guardPeerMemory(fd, SIZE)).isFalse();
            assertThatThrownBy(() -> Native.guardPeerMemory(fd, SIZE + 4096)).hasMessageContaining("shorter than");
        } finally {
            Native.close(fd);
        }
    }

    @Test
    void aShrunkFileFaultsOnAccessAsAnErrorTheServerCanRecognize() throws Exception {
        int fd = Native.memfd("shrinking", SIZE, Native.MFD_CLOEXEC);
        MemorySegment m = Native.mmapShared(fd, 0, SIZE);
        try {
            m.set(ValueLayout.JAVA_LONG, SIZE - 8, 42);
            Native.truncate(fd, 4096);
            Throwable fault = null;
            try {
                m.get(ValueLayout.JAVA_LONG, SIZE - 8);
            } catch (Throwable t) {
                fault = t;
            }
            assertThat(fault).isNotNull();
            assertThat(PeerMemoryFault.is(fault)).as("%s", fault).isTrue();
            assertThat(PeerMemoryFault.is(new RuntimeException(new IllegalStateException("x")))).isFalse();
        } finally {
            Native.munmap(m);
            Native.close(fd);
        }
    }
}
