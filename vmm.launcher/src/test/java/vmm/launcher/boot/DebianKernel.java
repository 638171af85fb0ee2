package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Debian's cloud kernel ({@code linux-image-cloud-amd64}) for the boot tests; they skip, saying what is missing, without it. */
public final class DebianKernel {
    static final byte[] LZ4_LEGACY_MAGIC = {0x02, 0x21, 0x4c, 0x18};

    private DebianKernel() {}

    /** The newest readable {@code /boot/vmlinuz-*-cloud-amd64}; skips the test without it. */
    public static Path require() throws IOException {
        Optional<Path> kernel;
        try (Stream<Path> s = Files.list(Path.of("/boot"))) {
            kernel = s.filter(p -> p.getFileName().toString().matches("vmlinuz-.*-cloud-amd64")).filter(Files::isReadable).sorted().reduce((a, b) -> b);
        }
        assumeTrue(kernel.isPresent(), "no readable /boot/vmlinuz-*-cloud-amd64: apt-get install linux-image-cloud-amd64");
        return kernel.get();
    }

    /** The bzImage's LZ4 payload, decompressed by {@code lz4}: the ELF vmlinux with the PVH note. */
    public static Path vmlinux(Path dir, Path bzImage) throws Exception {
        byte[] b = Files.readAllBytes(bzImage);
        int at = indexOf(b, LZ4_LEGACY_MAGIC);
        assumeTrue(at >= 0, bzImage + " has no LZ4 payload (magic 02 21 4c 18)");
        Path payload = dir.resolve("payload.lz4"), vmlinux = dir.resolve("vmlinux");
        Files.write(payload, Arrays.copyOfRange(b, at, b.length));
        Process p;
        try {
            p = new ProcessBuilder("lz4", "-d", "-f", payload.toString(), vmlinux.toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("lz4.log").toFile()).start();
        } catch (IOException e) {
            assumeTrue(false, "no lz4 (" + e.getMessage() + "): apt-get install lz4");
            throw e;
        }
        // A hang guard, and a failure rather than a skip: lz4 that never ends is broken, not missing.
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("lz4 finished").isTrue();
        // The payload is followed by the bzImage's trailer, which lz4 reports as an error after writing the ELF.
        byte[] head = Files.exists(vmlinux) ? Files.readAllBytes(vmlinux) : new byte[0];
        assertThat(head.length).as("lz4 output; %s", Files.readString(dir.resolve("lz4.log"))).isGreaterThan(4);
        assertThat(Arrays.copyOf(head, 4)).isEqualTo(new byte[] {0x7f, 'E', 'L', 'F'});
        return vmlinux;
    }

    private static int indexOf(byte[] b, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= b.length; i++) {
            for (int j = 0; j < pattern.length; j++) if (b[i + j] != pattern[j]) continue outer;
            return i;
        }
        return -1;
    }
}
