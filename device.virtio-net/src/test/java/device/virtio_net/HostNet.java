package device.virtio_net;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import vmm.testing.HangGuard;

/**
 * Network namespaces and links for tests that need the host's stack: each
 * command bounded in time, everything removed by {@link #close()} even
 * after a failure.
 */
final class HostNet implements AutoCloseable {
    final String ns = "vmmnet-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));

    /** Why these tests cannot run here, or null. */
    static String missing() {
        if (!"root".equals(System.getProperty("user.name"))) return "needs root for network namespaces and TAP devices";
        if (!new java.io.File("/dev/net/tun").exists()) return "no /dev/net/tun";
        try {
            run("ip", "-V");
        } catch (IOException e) {
            return "no iproute2: " + e.getMessage();
        }
        String probe = "vmmprobe-" + ProcessHandle.current().pid();
        try {
            run("ip", "netns", "add", probe);
            run("ip", "netns", "del", probe);
        } catch (IOException e) {
            return "cannot make a network namespace here: " + e.getMessage();
        }
        return null;
    }

    HostNet() throws IOException {
        run("ip", "netns", "add", ns);
    }

    /** Moves {@code link} into the namespace, gives it {@code cidr} and brings it up. */
    void adopt(String link, String cidr) throws IOException {
        run("ip", "link", "set", link, "netns", ns);
        run("ip", "-n", ns, "addr", "add", cidr, "dev", link);
        run("ip", "-n", ns, "link", "set", link, "up");
    }

    static String run(String... cmd) throws IOException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": no answer in " + HangGuard.BOUND.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out);
        return out;
    }

    @Override
    public void close() throws IOException {
        run("ip", "netns", "del", ns);
    }
}
