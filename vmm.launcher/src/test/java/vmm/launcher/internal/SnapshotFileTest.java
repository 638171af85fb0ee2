package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.platform.VmSnapshot;
import vmm.core.snapshot.SnapshotWriter;
import vmm.core.device.DeviceState;

/**
 * What {@code vmm run -r FILE} checks before anything is configured: a whole snapshot of ours gives back the
 * configuration it was taken with (with the VM renamed when a name is given); a missing, foreign, truncated,
 * corrupt or newer file, one without a configuration, or one with a device type no installed bundle provides, is
 * one line naming the file and what is wrong (Main prints it and exits with code 2).
 */
class SnapshotFileTest {
    @TempDir
    Path dir;

    private static final List<Arguments.Config> CONFIGS = List.of(
            new Arguments.Config("vmm.vm", null, props("name", "counter", "memory.size", "64M", "vcpus", 1,
                    "serial.console", 0x3f8, "accel", "emu", "big", 1L << 40, "reboot", true)),
            new Arguments.Config("vmm.device", "com1", props("type", "uart", "port", "com1", "backend", "stdio")));

    private static Map<String, Object> props(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** A snapshot of one 64 KiB region, a vCPU, and the com1 device of type {@code deviceType}. */
    private Path snapshot(String name, DeviceState config, String deviceType) throws IOException {
        Path f = dir.resolve(name);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             Arena arena = Arena.ofConfined()) {
            SnapshotWriter w = SnapshotWriter.create(ch, "vmm test", Instant.parse("2026-12-07T21:00:00Z"));
            if (config != null) w.platform(VmSnapshot.CONFIG, config);
            MemorySegment ram = arena.allocate(64 << 10);
            ram.set(java.lang.foreign.ValueLayout.JAVA_LONG, 4096, 0x1234);
            w.memory("ram-low", 0x10_0000, ram);
            w.vcpu(0, DeviceState.builder("vmm.emu.cpu", 1).put("rip", 0x7c00).build());
            w.device("com1", deviceType, DeviceState.builder(deviceType, 1).put("lcr", 3).build());
            w.finish();
        }
        return f;
    }

    private Path good() throws IOException {
        return snapshot("good.snap", SnapshotFile.toState(CONFIGS), "uart");
    }

    private static String refusal(Path file) {
        try {
            SnapshotFile.Restore r = SnapshotFile.open(file, null, Set.of("uart", "virtio-blk"));
            r.channel().close();
            throw new AssertionError("accepted " + file);
        } catch (Arguments.UsageException e) {
            assertThat(e.getMessage()).as("one line").doesNotContain("\n").startsWith("-r " + file + ": ");
            return e.getMessage();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void theConfigurationComesBackWithItsTypesAndTheVmRenamedWhenANameIsGiven() throws Exception {
        assertThat(SnapshotFile.fromState(DeviceState.decode(SnapshotFile.toState(CONFIGS).encode())))
                .isEqualTo(CONFIGS);
        SnapshotFile.Restore r = SnapshotFile.open(good(), "again", Set.of("uart"));
        try (FileChannel ch = r.channel()) {
            assertThat(r.configs()).hasSize(2);
            assertThat(r.configs().getFirst().properties()).containsEntry("name", "again")
                    .containsEntry("vcpus", 1).containsEntry("big", 1L << 40).containsEntry("reboot", true);
            assertThat(r.configs().get(1)).isEqualTo(CONFIGS.get(1));
            assertThat(r.reader().header().writtenBy()).isEqualTo("vmm test");
        }
    }

    @Test
    void aMissingOrForeignFileIsRefused() throws Exception {
        assertThat(refusal(dir.resolve("none.snap"))).endsWith("no such file");
        Path foreign = dir.resolve("disk.img");
        Files.write(foreign, new byte[4096]);
        assertThat(refusal(foreign)).contains("not a vmm snapshot");
    }

    @Test
    void aTruncatedFileIsRefusedAtEveryLength() throws Exception {
        byte[] whole = Files.readAllBytes(good());
        for (int len : new int[] {0, 5, 30, whole.length / 2, whole.length - 13, whole.length - 1}) {
            Path cut = dir.resolve("cut" + len + ".snap");
            Files.write(cut, Arrays.copyOf(whole, len));
            String why = refusal(cut);
            assertThat(why).as("cut at %d", len).containsAnyOf("truncated", "not a vmm snapshot");
        }
    }

    @Test
    void aCorruptPayloadIsRefusedBeforeAnythingRuns() throws Exception {
        byte[] b = Files.readAllBytes(good());
        // The 64-bit word 0x1234 in the memory region's second page: one of its bits flipped.
        int at = indexOf(b, new byte[] {0x34, 0x12, 0, 0, 0, 0, 0, 0});
        assertThat(at).isPositive();
        b[at] ^= 1;
        Path bad = dir.resolve("corrupt.snap");
        Files.write(bad, b);
        assertThat(refusal(bad)).contains("corrupt payload (CRC-32C mismatch)").contains("memory 'ram-low'");
    }

    @Test
    void aFileOfANewerFormatIsRefused() throws Exception {
        byte[] b = Files.readAllBytes(good());
        b[11] = 2; // the format version, big-endian at offset 8
        Path newer = dir.resolve("newer.snap");
        Files.write(newer, b);
        assertThat(refusal(newer)).contains("format version 2 is newer");
    }

    @Test
    void aDeviceTypeNoInstalledBundleProvidesIsRefusedByName() throws Exception {
        Path f = snapshot("nic.snap", SnapshotFile.toState(CONFIGS), "e1000");
        assertThat(refusal(f)).contains("device 'com1' is of type 'e1000', which no installed bundle provides");
    }

    @Test
    void aFileWithoutAConfigurationOrWithAnUnreadableOneIsRefused() throws Exception {
        assertThat(refusal(snapshot("noconfig.snap", null, "uart"))).contains("no configuration section");
        DeviceState notOurs = DeviceState.builder("qemu.config", 1).build();
        assertThat(refusal(snapshot("foreign-config.snap", notOurs, "uart"))).contains("qemu.config");
    }

    @Test
    void aReplacementGivesTheSnapshotsDeviceANewBackEndOrIsRefusedWhenTheDeviceIsNotThere() throws Exception {
        Arguments.Config log = new Arguments.Config("vmm.device", "com1",
                props("type", "uart", "port", "com1", "backend", "log=/tmp/other.log"));
        SnapshotFile.Restore r = SnapshotFile.open(good(), null, List.of(log), Set.of("uart"));
        try (FileChannel ch = r.channel()) {
            assertThat(r.configs().get(1)).isEqualTo(log);
        }
        Arguments.Config com2 = new Arguments.Config("vmm.device", "com2",
                props("type", "uart", "port", "com2", "backend", "stdio"));
        assertThatThrownBy(() -> SnapshotFile.open(good(), null, List.of(com2), Set.of("uart")))
                .isInstanceOf(Arguments.UsageException.class)
                .hasMessageContaining("the snapshot has no device at com2 (a restore replaces back ends");
        Arguments.Config disk = new Arguments.Config("vmm.device", null,
                props("type", "virtio-blk", "address", "0:4.0", "path", "/tmp/x.img"));
        assertThatThrownBy(() -> SnapshotFile.open(good(), null, List.of(disk), Set.of("uart")))
                .isInstanceOf(Arguments.UsageException.class).hasMessageContaining("no device at slot 0:4.0");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
