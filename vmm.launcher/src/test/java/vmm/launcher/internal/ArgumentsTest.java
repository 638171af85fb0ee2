package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line becomes configuration; every mistake is one clear line before anything starts. */
class ArgumentsTest {
    @TempDir
    Path dir;

    @Test
    void vhostUserWithABhyveStyleDiskBecomesAVhostUserConfiguration() throws Exception {
        Path img = Files.createFile(dir.resolve("disk.img"));
        Arguments.Plan plan = Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s.sock").toString(),
                "virtio-blk," + img + ",ro,sectorsize=4096,ser=ABC"));

        assertThat(plan.command()).isEqualTo("vhost-user");
        Arguments.Config c = plan.configs().getFirst();
        assertThat(c.factoryPid()).isEqualTo("vmm.vhost-user");
        assertThat(c.properties()).containsEntry("type", "virtio-blk").containsEntry("path", img.toString())
                .containsEntry("ro", "true").containsEntry("sectorsize", "4096").containsEntry("serial", "ABC")
                .containsEntry("socket", dir.resolve("s.sock").toString());
    }

    @Test
    void aNetworkDeviceNeedsAnExistingTapAndVionaIsAnImplementationOfVirtioNet() throws Exception {
        Path sys = Files.createDirectories(dir.resolve("sys/class/net/tap7"));
        Path old = Arguments.sysClassNet;
        Arguments.sysClassNet = sys.getParent();
        try {
            var props = Arguments.emulation("virtio-net-viona,tap7,mac=52:54:00:12:34:56");
            assertThat(props).containsEntry("type", "virtio-net").containsEntry("implementation", "viona")
                    .containsEntry("tap", "tap7").containsEntry("mac", "52:54:00:12:34:56").containsEntry("offload", "true");
            assertThat(Arguments.emulation("virtio-net,tap7")).doesNotContainKey("implementation").containsEntry("offload", "true");
            assertThatThrownBy(() -> Arguments.emulation("virtio-net,tap8")).hasMessageContaining("tap8: no such network interface");
            assertThatThrownBy(() -> Arguments.emulation("virtio-net")).hasMessageContaining("needs a TAP device");
        } finally {
            Arguments.sysClassNet = old;
        }
    }

    @Test
    void noArgumentsOrHelpAsksForTheUsage() throws Exception {
        assertThat(Arguments.parse(List.of()).command()).isEqualTo("help");
        assertThat(Arguments.parse(List.of("--help")).command()).isEqualTo("help");
    }

    @Test
    void anUnknownEmulationIsNamedWithTheKnownOnes() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-gpu")))
                .hasMessage("unknown emulation 'virtio-gpu' (known: virtio-blk, virtio-net, virtio-net-viona, virtio-rng)");
    }

    @Test
    void aMissingDiskIsNamed() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-blk,/no/such.img")))
                .hasMessage("virtio-blk: /no/such.img: no such file");
    }

    @Test
    void aDiskThatIsADirectoryIsNamed() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-blk," + dir)))
                .hasMessageContaining("is a directory");
    }

    @Test
    void aSocketInADirectoryThatDoesNotExistIsNamed() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", "/no/such/dir/s.sock", "virtio-rng")))
                .hasMessageContaining("no directory /no/such/dir");
    }

    @Test
    void theSocketIsRequired() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "virtio-rng"))).hasMessageContaining("--socket PATH is required");
    }

    @Test
    void oneDevicePerSocket() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket=" + dir.resolve("s"), "virtio-rng", "virtio-rng")))
                .hasMessageContaining("one device per socket");
    }

    @Test
    void anUnknownCommandOrOptionIsNamed() {
        assertThatThrownBy(() -> Arguments.parse(List.of("frobnicate"))).hasMessageContaining("unknown command 'frobnicate'");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--fast"))).hasMessageContaining("unknown option --fast");
    }

    @Test
    void aDiskOptionThatIsNeitherAFlagNorKeyValueIsNamed() throws Exception {
        Path img = Files.createFile(dir.resolve("d.img"));
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-blk," + img + ",fast")))
                .hasMessage("virtio-blk: unknown option 'fast'");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-blk," + img + ",ser=")))
                .hasMessage("option 'ser=' has no value");
    }
}
