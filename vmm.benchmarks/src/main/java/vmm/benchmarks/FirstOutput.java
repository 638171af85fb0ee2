package vmm.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The clock of {@code startup-vs-qemu.sh}: starts a VMM process and times, from just before the fork, the
 * moment a marker the guest writes to its serial port appears on the process's standard output (the guest's
 * first output), then the end of the process. Standard input is empty, standard error is discarded.
 *
 * <pre>
 * FirstOutput time MARKER COMMAND...     prints "FIRST_MS EXIT_MS" (FIRST_MS -1 when the marker never came)
 * FirstOutput memory MARKER SETTLE_MS COMMAND...
 *     for a guest that stays up after its marker: reads the CPU time the process has used when the marker
 *     comes, waits SETTLE_MS, reads the process's /proc status, ends it (SIGTERM) and prints
 *     "RSS_ANON_KB RSS_FILE_KB RSS_SHMEM_KB CPU_MS". CPU_MS is user and system time, its waited-for
 *     children's included, in clock ticks of 10 ms: unlike the wall time, barely moved by a loaded machine
 * </pre>
 * A benchmark tool, run from its source by the script; it is no part of the VMM.
 */
public final class FirstOutput {
    private static final long HANG_GUARD_MS = 120_000;

    private FirstOutput() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: FirstOutput time MARKER COMMAND... | memory MARKER SETTLE_MS COMMAND...");
            System.exit(2);
        }
        byte[] marker = args[1].getBytes(StandardCharsets.ISO_8859_1);
        boolean memory = args[0].equals("memory");
        List<String> command = Arrays.asList(args).subList(memory ? 3 : 2, args.length);
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        long t0 = System.nanoTime();
        Process p = pb.start();
        long first = awaitMarker(p.getInputStream(), marker) ? System.nanoTime() : -1;
        if (memory) {
            if (first < 0) {
                System.err.println("FirstOutput: no marker from " + command);
                System.exit(1);
            }
            long cpuMs = cpuMillis(p.pid());
            Thread.sleep(Long.parseLong(args[2]));
            long[] kb = status(p.pid());
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            System.out.println(kb[0] + " " + kb[1] + " " + kb[2] + " " + cpuMs);
            return;
        }
        Thread drain = Thread.ofVirtual().start(() -> {
            try {
                p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            } catch (IOException e) {
                // the process ended: nothing more to read
            }
        });
        if (!p.waitFor(HANG_GUARD_MS, TimeUnit.MILLISECONDS)) p.destroyForcibly().waitFor();
        long end = System.nanoTime();
        drain.join();
        System.out.println((first < 0 ? -1 : (first - t0) / 1_000_000) + " " + (end - t0) / 1_000_000);
    }

    /** Reads until {@code marker} has gone by (true) or the stream ends (false). */
    private static boolean awaitMarker(InputStream in, byte[] marker) throws IOException {
        int matched = 0;
        for (int b; (b = in.read()) >= 0; ) {
            if (b == (marker[matched] & 0xFF)) {
                if (++matched == marker.length) return true;
            } else {
                matched = b == (marker[0] & 0xFF) ? 1 : 0;
            }
        }
        return false;
    }

    /** utime + stime + cutime + cstime of a process (proc(5): fields 14 to 17 of /proc/PID/stat), in ms. */
    private static long cpuMillis(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = 0;
        for (int i = 11; i <= 14; i++) ticks += Long.parseLong(f[i]);
        return ticks * 10;  // USER_HZ is 100 on Linux
    }

    /** RssAnon, RssFile and RssShmem of a process, in KiB. */
    private static long[] status(long pid) throws IOException {
        long[] kb = new long[3];
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            String[] f = line.split("\\s+");
            switch (f[0]) {
                case "RssAnon:" -> kb[0] = Long.parseLong(f[1]);
                case "RssFile:" -> kb[1] = Long.parseLong(f[1]);
                case "RssShmem:" -> kb[2] = Long.parseLong(f[1]);
                default -> { }
            }
        }
        return kb;
    }
}
