package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * What a user (or a script built from untrusted names) gives the launcher:
 * any command line made of its flags, their values and arbitrary words,
 * and any {@code -k} configuration file (JSON of any shape, any bytes).
 * Each becomes a plan or a {@link Arguments.UsageException} naming what is
 * wrong; never another exception.
 */
class LauncherInputsFuzzTest {
    private static final String[] WORDS = {"run", "vhost-user", "vfio-user", "help", "-c", "-m", "-s", "-l", "-o",
            "--kernel", "--initrd", "--cmdline", "--socket", "--socket=/tmp/x.sock", "0,hostbridge", "31,lpc",
            "4,virtio-blk,/dev/null,ro,ser=D1", "5,virtio-net,tap0,mac=52:54:00:12:34:56", "6:0,virtio-rng",
            "7,virtio-rng,max-bytes-per-request=512", "com1,stdio", "com2,log=/tmp/com2.log", "bootrom,/dev/null",
            "vm.cmdline=quiet", "pci.0.4.0.ser=DISK1", "memory.size=64M", "512M", "1G", "2", "0", "-1", "vm1", ""};
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("launcher-fuzz");
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @AfterAll
    static void release() throws IOException {
        Files.deleteIfExists(DIR.resolve("vm.json"));
        Files.deleteIfExists(DIR);
    }

    @FuzzTest(maxDuration = "5m")
    void anyCommandLine(FuzzedDataProvider data) {
        List<String> args = new ArrayList<>();
        while (data.remainingBytes() > 0 && args.size() < 40) {
            if (data.consumeInt(0, 3) == 0) args.add(data.consumeString(24));
            else args.add(data.pickValue(WORDS));
        }
        try {
            assertThat(Arguments.parse(args)).isNotNull();
        } catch (Arguments.UsageException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }

    @FuzzTest(maxDuration = "5m")
    void anyConfigFile(byte[] contents) throws IOException {
        Path file = Files.write(DIR.resolve("vm.json"), contents);
        try {
            assertThat(Arguments.parse(List.of("run", "-k", file.toString()))).isNotNull();
        } catch (Arguments.UsageException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }
}
