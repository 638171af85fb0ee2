package device.pci_passthru.internal.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host's libc under VFIO's calls: failures name the call and errno the way VfioHost reports them. */
class LinuxVfioSysTest {
    private static final long TCGETS = 0x5401;
    private final LinuxVfioSys sys = new LinuxVfioSys();

    @Test
    void openingAMissingGroupNamesThePathAndEnoent() {
        assertThatThrownBy(() -> sys.open("/nonexistent/vfio/7"))
                .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno).isEqualTo(SysException.ENOENT))
                .hasMessage("open(/nonexistent/vfio/7): ENOENT (no such file)");
    }

    @Test
    void anIoctlTheFileDoesNotKnowNamesTheRequestNumber() {
        int fd = sys.open("/dev/null");
        try (Arena a = Arena.ofConfined()) {
            assertThatThrownBy(() -> sys.ioctl(fd, TCGETS, 0L))
                    .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno).isEqualTo(SysException.ENOTTY))
                    .hasMessage("ioctl 0x5401: ENOTTY (not a VFIO file)");
            assertThatThrownBy(() -> sys.ioctl(fd, TCGETS, a.allocate(64)))
                    .isInstanceOfSatisfying(SysException.class,
                            e -> assertThat(e.errno).isEqualTo(SysException.ENOTTY));
        } finally {
            sys.close(fd);
        }
    }

    @Test
    void positionalReadsWritesAndMappingsSeeTheSameFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("region");
        Files.write(file, new byte[4096]);
        int fd = sys.open(file.toString());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment word = a.allocateFrom(ValueLayout.JAVA_INT, 0x5a5a_1234);
            assertThat(sys.pwrite(fd, word, 16)).isEqualTo(4);
            MemorySegment map = sys.mmap(fd, 0, 4096);
            assertThat(map.get(ValueLayout.JAVA_INT, 16)).isEqualTo(0x5a5a_1234);
            map.set(ValueLayout.JAVA_INT, 32, 0x77);
            MemorySegment back = a.allocate(4);
            assertThat(sys.pread(fd, back, 32)).isEqualTo(4);
            assertThat(back.get(ValueLayout.JAVA_INT, 0)).isEqualTo(0x77);
            sys.munmap(map);
        } finally {
            sys.close(fd);
        }
    }
}
