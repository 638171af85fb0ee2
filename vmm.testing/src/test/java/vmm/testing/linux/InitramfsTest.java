package vmm.testing.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The archive is one that GNU cpio (and so the kernel's unpacker, which reads the same format) reads. */
class InitramfsTest {
    @TempDir
    Path dir;

    @Test
    void theArchiveHoldsBusyboxInitAConsoleAndAddedFilesUnderTheirDirectories() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/cpio")), "no cpio: apt-get install cpio");
        Path archive = new Initramfs("echo hello\n").file("etc/deep/x.sh", "exit 0\n".getBytes())
                .write(dir.resolve("test.cpio"));
        Process p = new ProcessBuilder("cpio", "-itv", "-F", archive.toString()).redirectErrorStream(true).start();
        String listing = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("cpio finished").isTrue();    // a hang guard
        assertThat(p.exitValue()).as(listing).isZero();
        assertThat(listing).containsPattern("crw-------.* 5,\\s*1 .*dev/console")
                .containsPattern("-rwxr-xr-x.* init\\n").containsPattern("bin/busybox")
                .containsPattern("drwxr-xr-x.* etc\\n").containsPattern("drwxr-xr-x.* etc/deep\\n")
                .containsPattern("-rwxr-xr-x.* 7 .*etc/deep/x.sh");
        assertThat(listing.indexOf(" etc/deep\n")).isLessThan(listing.indexOf("etc/deep/x.sh"));
    }
}
