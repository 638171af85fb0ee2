package vmm.testing.linux;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An initramfs for Debian's kernel, built by the test: Debian's static busybox as {@code /bin/busybox}, a
 * {@code /dev/console}, an {@code /init} script, the kernel package's own modules (with what they depend on,
 * in load order, under {@code /modules}) and host programs with the shared libraries {@code ldd} names.
 * Tests skip, saying what to install, where busybox or a module is missing.
 */
public final class Initramfs {
    public static final Path BUSYBOX = Path.of("/bin/busybox");

    /** The newest readable {@code /boot/vmlinuz-*-cloud-amd64} (Debian's cloud kernel); skips the test without one. */
    public static Path debianKernel() throws IOException {
        java.util.Optional<Path> kernel;
        try (java.util.stream.Stream<Path> s = Files.list(Path.of("/boot"))) {
            kernel = s.filter(p -> p.getFileName().toString().matches("vmlinuz-.*-cloud-amd64"))
                    .filter(Files::isReadable).sorted().reduce((a, b) -> b);
        }
        assumeTrue(kernel.isPresent(),
                "no readable /boot/vmlinuz-*-cloud-amd64: apt-get install linux-image-cloud-amd64");
        return kernel.get();
    }

    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Set<String> directories = new LinkedHashSet<>(List.of("bin", "dev", "proc", "sys", "mnt", "modules"));
    private final List<String> modules = new ArrayList<>();

    /** Starts an archive with busybox and {@code script} as {@code /init} (run by {@code /bin/busybox sh}). */
    public Initramfs(String script) throws IOException {
        assumeTrue(Files.isReadable(BUSYBOX), "no " + BUSYBOX + ": apt-get install busybox-static");
        files.put("bin/busybox", Files.readAllBytes(BUSYBOX));
        init(script);
    }

    /** Adds a file at {@code name} (a path in the archive, without the leading slash), executable. */
    public Initramfs file(String name, byte[] data) {
        for (Path d = Path.of(name).getParent(); d != null; d = d.getParent()) directories.add(d.toString());
        files.put(name, data.clone());
        return this;
    }

    /** Replaces {@code /init} with {@code script}. */
    public Initramfs init(String script) {
        files.put("init", ("#!/bin/busybox sh\n" + script).getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /**
     * Adds the modules named (as {@code modinfo} names them, e.g. {@code virtio_pci}) from the modules of
     * {@code bzImage}'s kernel version, and the modules they depend on ({@code modules.dep}).
     */
    public Initramfs modules(Path bzImage, String... names) throws IOException {
        String version = bzImage.getFileName().toString().replaceFirst("^vmlinuz-", "");
        Path root = Path.of("/lib/modules", version);
        assumeTrue(Files.isReadable(root.resolve("modules.dep")), "no " + root + "/modules.dep: the kernel package's"
                + " modules (apt-get install linux-image-" + version + ")");
        Map<String, List<String>> deps = new LinkedHashMap<>();
        for (String line : Files.readAllLines(root.resolve("modules.dep"))) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String rest = line.substring(colon + 1).trim();
            deps.put(line.substring(0, colon), rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
        }
        for (String name : names) {
            String path = deps.keySet().stream().filter(p -> moduleName(p).equals(name.replace('-', '_'))).findFirst()
                    .orElse(null);
            assumeTrue(path != null, "no module " + name + " in " + root);
            add(root, path, deps);
        }
        return this;
    }

    private void add(Path root, String path, Map<String, List<String>> deps) throws IOException {
        String name = Path.of(path).getFileName().toString();
        if (files.containsKey("modules/" + name)) return;
        // modules.dep lists the modules a module needs, those it needs first at the end.
        List<String> needed = new ArrayList<>(deps.getOrDefault(path, List.of()));
        java.util.Collections.reverse(needed);
        for (String n : needed) add(root, n, deps);
        files.put("modules/" + name, Files.readAllBytes(root.resolve(path)));
        modules.add("/modules/" + name);
    }

    private static String moduleName(String path) {
        return Path.of(path).getFileName().toString().replaceFirst("\\.ko(\\..*)?$", "").replace('-', '_');
    }

    /** The modules added, as paths in the archive, in an order {@code insmod} can load them. */
    public List<String> moduleLoadOrder() {
        return List.copyOf(modules);
    }

    /** Adds host programs at their own paths, with the shared libraries and loader {@code ldd} says they need. */
    public Initramfs programs(String... paths) throws Exception {
        Pattern lib = Pattern.compile("(?:=>\\s*)?(/\\S+)\\s+\\(0x");
        for (String program : paths) {
            Path p = Path.of(program);
            assumeTrue(Files.isExecutable(p), "no " + p + " on this host");
            hostFile(p);
            Process ldd = new ProcessBuilder("ldd", program).redirectErrorStream(true).start();
            String out = new String(ldd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            // A hang guard: ldd answers at once.
            if (!ldd.waitFor(60, TimeUnit.SECONDS)) ldd.destroyForcibly();
            Matcher m = lib.matcher(out);
            while (m.find()) hostFile(Path.of(m.group(1)));
        }
        return this;
    }

    private void hostFile(Path p) throws IOException {
        String name = p.toString().substring(1);
        if (files.containsKey(name)) return;
        for (Path d = Path.of(name).getParent(); d != null; d = d.getParent()) directories.add(d.toString());
        files.put(name, Files.readAllBytes(p.toRealPath()));
    }

    /** Writes the archive ("newc" cpio, as the kernel unpacks it). */
    public Path write(Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            NewcArchive cpio = new NewcArchive(out);
            List<String> dirs = new ArrayList<>(directories);
            dirs.sort(null);                                                // parents before their children
            for (String d : dirs) cpio.directory(d);
            cpio.charDevice("dev/console", 5, 1);                           // init's stdio; no devtmpfs yet
            for (Map.Entry<String, byte[]> e : files.entrySet()) cpio.file(e.getKey(), 0755, e.getValue());
            cpio.finish();
        }
        return file;
    }

    /** The "newc" cpio format (Documentation/driver-api/early-userspace/buffer-format.rst), written in order. */
    public static final class NewcArchive {
        private final OutputStream out;
        private long written;
        private int ino = 1;

        public NewcArchive(OutputStream out) {
            this.out = out;
        }

        public void directory(String name) throws IOException {
            entry(name, 0040755, 0, 0, new byte[0]);
        }

        public void charDevice(String name, int major, int minor) throws IOException {
            entry(name, 0020600, major, minor, new byte[0]);
        }

        public void file(String name, int permissions, byte[] data) throws IOException {
            entry(name, 0100000 | permissions, 0, 0, data);
        }

        public void finish() throws IOException {
            entry("TRAILER!!!", 0, 0, 0, new byte[0]);
        }

        private void entry(String name, int mode, int rdevMajor, int rdevMinor, byte[] data) throws IOException {
            byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            String header = "070701" + String.format("%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
                    name.equals("TRAILER!!!") ? 0 : ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor,
                    n.length, 0);
            write(header.getBytes(StandardCharsets.US_ASCII));
            write(n);
            pad();
            write(data);
            pad();
        }

        private void write(byte[] b) throws IOException {
            out.write(b);
            written += b.length;
        }

        private void pad() throws IOException {
            while (written % 4 != 0) write(new byte[1]);
        }
    }
}
