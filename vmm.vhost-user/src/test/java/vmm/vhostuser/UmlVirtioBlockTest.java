package vmm.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.testing.HangGuard;

/**
 * A real Linux {@code virtio_blk} driver (user-mode Linux, a vhost-user
 * front-end) on device.virtio-block served by this back-end: it sees the
 * disk's size and serial, {@code fio --verify} finds no corruption, and a
 * file system made on the disk checks clean, also across a swap of the
 * device implementation in the middle of a verified write run.
 */
class UmlVirtioBlockTest {
    private static final int VIRTIO_ID_BLOCK = 2;
    private static final String MODULE = "drivers/block/virtio_blk.ko";
    private static final long DISK = 64L << 20;

    @TempDir
    Path dir;
    private Path image;

    @BeforeEach
    void requireUml() throws Exception {
        String missing = UserModeLinux.missing();
        assumeTrue(missing == null, () -> "user-mode Linux cannot run here: " + missing);
        for (String tool : new String[] {"fio", "mkfs.ext4", "fsck.ext4"})
            assumeTrue(UserModeLinux.onPath(tool), () -> "the guest runs the host's " + tool + ": apt-get install fio e2fsprogs");
        image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(DISK);
        }
    }

    private VhostUserServer serve() throws Exception {
        return VhostUserServer.start(dir.resolve("blk.sock"), "uml-blk",
                Map.of("path", image.toString(), "serial", "vmm-uml-1"), "virtio-blk", new VirtioBlockProvider());
    }

    @Test
    void linuxSeesTheDiskAndFioVerifiesAndAFileSystemChecksClean() throws Exception {
        try (VhostUserServer server = serve()) {
            Map<String, String> r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_BLOCK, MODULE, """
                    for i in $(seq 1 300); do [ -e /sys/block/vda ] && break; sleep 0.2; done
                    echo "size=$(cat /sys/block/vda/size)"
                    echo "serial=$(cat /sys/block/vda/serial)"
                    echo "ro=$(cat /sys/block/vda/ro)"
                    fio --name=verify --filename=/dev/vda --rw=randwrite --bs=4k --size=16M --verify=crc32c \\
                        --ioengine=psync --direct=1 --output=%1$s/fio.txt; echo "fio=$?"
                    fio --name=qd --filename=/dev/vda --rw=randrw --bs=64k --size=16M --offset=32M --iodepth=16 \\
                        --ioengine=libaio --direct=1 --verify=md5 --output=%1$s/fio-qd.txt; echo "fio-qd=$?"
                    mkfs.ext4 -q -F /dev/vda; echo "mkfs=$?"
                    fsck.ext4 -n -f /dev/vda; echo "fsck=$?"
                    """.formatted(dir), 240);
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("size", String.valueOf(DISK / 512))
                    .containsEntry("serial", "vmm-uml-1")
                    .containsEntry("ro", "0")
                    .containsEntry("fio", "0")
                    .containsEntry("fio-qd", "0")
                    .containsEntry("mkfs", "0")
                    .containsEntry("fsck", "0");
            assertThat(server.lastFailure()).isNull();
        }
    }

    @Test
    void dataLinuxFlushedIsInTheImageAfterTheBackEndIsKilledRightAfterTheFlush() throws Exception {
        Path pattern = dir.resolve("pattern.bin"), flushed = dir.resolve("flushed");
        byte[] data = new byte[8 << 20];
        new java.util.Random(42).nextBytes(data);
        Files.write(pattern, data);
        Path socket = dir.resolve("child.sock");
        Process child = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                ChildServer.class.getName(), socket.toString(), image.toString())
                .redirectErrorStream(true).start();
        try {
            var childOut = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
            String line;
            while ((line = childOut.readLine()) != null && !line.startsWith("ready")) {
                // log lines of the child before it listens
            }
            assertThat(line).as("the child back-end started").isNotNull();
            Thread.ofPlatform().daemon().start(() -> childOut.lines().forEach(l -> { })); // keep its pipe drained
            // The guest writes through the page cache, then fsync: the driver sends FLUSH and waits for it.
            AtomicBoolean guestDone = new AtomicBoolean();
            Thread killer = Thread.ofPlatform().start(() -> {
                try {
                    while (!Files.exists(flushed) && !guestDone.get()) Thread.sleep(1);
                    child.destroyForcibly(); // SIGKILL, right after the flush completed in the guest
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Map<String, String> r = UserModeLinux.run(dir, socket, VIRTIO_ID_BLOCK, MODULE, """
                    for i in $(seq 1 300); do [ -e /sys/block/vda ] && break; sleep 0.2; done
                    dd if=%1$s/pattern.bin of=/dev/vda bs=1M count=8 conv=fsync 2>/dev/null; echo "dd=$?"
                    touch %1$s/flushed
                    sleep 2
                    """.formatted(dir), 120);
            guestDone.set(true);
            killer.join(HangGuard.BOUND);
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("dd", "0");
            assertThat(child.waitFor(HangGuard.BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(137);
            byte[] onDisk = new byte[data.length];
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
                f.readFully(onDisk);
            }
            assertThat(onDisk).as("the flushed data is in the image").isEqualTo(data);
        } finally {
            child.destroyForcibly();
        }
    }

    /** What a test does to the device while Linux runs its load; {@code guestDone} says the guest gave up. */
    private interface DuringLoad {
        void run(VhostUserServer server, AtomicBoolean guestDone) throws Exception;
    }

    /**
     * Runs a verified random-write load in Linux and {@code action} once it has started; the guest keeps the load
     * up until the action is done, so the action falls inside it however slow the host is (marks through hostfs).
     * Returns the guest's results; {@code duringFio[0]} says whether the action ended while the load still ran.
     */
    private Map<String, String> whileLinuxWrites(VhostUserServer server, boolean[] duringFio, DuringLoad action)
            throws Exception {
        Path started = dir.resolve("fio-started"), finished = dir.resolve("fio-finished");
        AtomicBoolean guestDone = new AtomicBoolean();
        Thread actor = Thread.ofPlatform().start(() -> {
            try {
                while (!Files.exists(started) && !guestDone.get()) Thread.sleep(10);
                if (guestDone.get()) return;
                action.run(server, guestDone);
                duringFio[0] = Files.exists(started) && !Files.exists(finished);
                Files.createFile(dir.resolve("done"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            return UserModeLinux.run(dir, server.socket(), VIRTIO_ID_BLOCK, MODULE, """
                    for i in $(seq 1 300); do [ -e /sys/block/vda ] && break; sleep 0.2; done
                    touch %1$s/fio-started
                    while :; do
                        fio --name=load --filename=/dev/vda --rw=randwrite --bs=4k --size=48M --verify=crc32c \\
                            --ioengine=libaio --iodepth=8 --direct=1 --output=%1$s/fio-load.txt; rc=$?
                        [ $rc -ne 0 ] || [ -e %1$s/done ] && break
                    done
                    echo "fio=$rc"
                    touch %1$s/fio-finished
                    """.formatted(dir), 240);
        } finally {
            guestDone.set(true);
            actor.join(HangGuard.BOUND);
        }
    }

    @Test
    void aSwapWhileLinuxRunsAVerifiedWriteLoadCausesNoVerifyError() throws Exception {
        try (VhostUserServer server = serve()) {
            boolean[] duringFio = new boolean[1];
            Map<String, String> r = whileLinuxWrites(server, duringFio, (s, guestDone) -> {
                s.swapTo("virtio-blk-2", new VirtioBlockProvider());
                s.swapTo("virtio-blk", new VirtioBlockProvider());
            });
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("fio", "0");
            assertThat(server.swapCount()).isEqualTo(2);
            assertThat(duringFio[0]).as("both swaps happened while fio was running").isTrue();
        }
    }

    @Test
    void aHoldWhileLinuxRunsAVerifiedWriteLoadStallsItAndTheNextProviderFinishesItWithNoVerifyError() throws Exception {
        try (VhostUserServer server = serve()) {
            boolean[] duringFio = new boolean[1];
            long[] kicks = new long[1];
            Map<String, String> r = whileLinuxWrites(server, duringFio, (s, guestDone) -> {
                s.detach(); // the provider left, none is there
                // The guest goes on offering requests into the held rings: wait until it kicked some.
                while (s.kicksWhileHeld() == 0 && !guestDone.get()) Thread.sleep(1);
                kicks[0] = s.kicksWhileHeld();
                s.swapTo("virtio-blk-2", new VirtioBlockProvider()); // a provider arrives
            });
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("fio", "0");
            assertThat(kicks[0]).as("the guest kicked the held device").isPositive();
            assertThat(duringFio[0]).as("held and attached while fio was running").isTrue();
            assertThat(server.swapCount()).isEqualTo(1);
            assertThat(server.connections()).as("the front-end never reconnected").isEqualTo(1);
            assertThat(server.lastFailure()).isNull();
        }
    }
}
