package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --bundle} is taken off the line, and an emulation name no built-in table knows is a device type of the
 * installed providers, its options passed to the provider as they are.
 */
class ProviderEmulationsTest {
    private static final Set<String> INSTALLED = Set.of("uart", "virtio-blk", "virtio-rng", "my-device", "e1000");
    private static final String ROM = "/usr/share/seabios/bios-256k.bin";

    @TempDir
    Path dir;

    private Path rom() throws Exception {
        return Files.write(dir.resolve("rom.bin"), new byte[4096]);
    }

    @Test
    void bundleOptionsAreTakenOffTheLineInTheirOrderWhereverTheyStand() throws Exception {
        Arguments.WithBundles w = Arguments.bundles(List.of("run", "--bundle", "a.jar", "-m", "64M",
                "--bundle=dir", "-s", "5,my-device", "vm"));
        assertThat(w.bundles()).containsExactly(Path.of("a.jar"), Path.of("dir"));
        assertThat(w.rest()).containsExactly("run", "-m", "64M", "-s", "5,my-device", "vm");

        assertThat(Arguments.bundles(List.of("vhost-user", "--socket", "s.sock", "--bundle", "b.jar", "my-device"))
                .rest()).containsExactly("vhost-user", "--socket", "s.sock", "my-device");
        assertThat(Arguments.bundles(List.of("help", "--bundle", "b.jar")).rest()).containsExactly("help");
    }

    @Test
    void aBundleOptionAsAnotherOptionsValueIsThatValue() throws Exception {
        Arguments.WithBundles w = Arguments.bundles(List.of("run", "--cmdline", "--bundle", "x"));
        assertThat(w.bundles()).isEmpty();
        assertThat(w.rest()).containsExactly("run", "--cmdline", "--bundle", "x");
    }

    @Test
    void otherCommandsKeepTheirLine() throws Exception {
        List<String> shell = List.of("shell", "vm", "felix:install", "--bundle");
        assertThat(Arguments.bundles(shell).rest()).isEqualTo(shell);
        assertThat(Arguments.bundles(shell).bundles()).isEmpty();
    }

    @Test
    void aBundleOptionWithoutAPathIsOneLine() {
        assertThatThrownBy(() -> Arguments.bundles(List.of("run", "--bundle")))
                .hasMessage("--bundle needs a bundle JAR or a directory of them");
        assertThatThrownBy(() -> Arguments.bundles(List.of("run", "--bundle=")))
                .hasMessage("--bundle needs a bundle JAR or a directory of them");
    }

    @Test
    void aProvidersTypeInASlotIsADeviceInstanceWithItsOptionsAsProperties() throws Exception {
        Arguments.Plan plan = Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s",
                "5,my-device,key=value,verbose,implementation=fast"), INSTALLED);
        Arguments.Config c = plan.configs().stream().filter(x -> x.factoryPid().equals("vmm.device")).findFirst()
                .orElseThrow();
        assertThat(c.name()).isEqualTo("s5_0");
        assertThat(c.properties()).isEqualTo(Map.of("type", "my-device", "address", "0:5.0", "key", "value",
                "verbose", "true", "implementation", "fast"));
        assertThat(plan.warnings()).isEmpty();
    }

    @Test
    void aProvidersTypeIsServedOverVhostUserToo() throws Exception {
        Arguments.Plan plan = Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("d.sock").toString(),
                "my-device,key=value"), INSTALLED);
        assertThat(plan.configs().getFirst().properties()).containsEntry("type", "my-device")
                .containsEntry("key", "value").containsEntry("socket", dir.resolve("d.sock").toString());
    }

    @Test
    void theLaunchersOwnKeysAreNotAnOption() {
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s",
                "5,my-device,address=0:9.0"), INSTALLED)).hasMessageContaining("my-device: address= is the launcher's");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s",
                "5,my-device,type=virtio-blk"), INSTALLED)).hasMessageContaining("my-device: type= is the launcher's");
    }

    @Test
    void anUnknownTypeListsTheBuiltInNamesAndTheInstalledProvidersPciTypes() {
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s", "5,upper-echo"),
                INSTALLED)).hasMessage("-s 5,upper-echo: unknown emulation 'upper-echo' (known: virtio-blk, "
                        + "virtio-net, virtio-net-viona, virtio-rnd, virtio-rng, virtio-vsock; types of the installed "
                        + "device providers: e1000, my-device, virtio-blk, virtio-rng)");
    }

    @Test
    void withoutProvidersTheUnknownTypeMessageIsTodays() {
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s", "5,upper-echo")))
                .hasMessage("-s 5,upper-echo: unknown emulation 'upper-echo' (known: virtio-blk, virtio-net, "
                        + "virtio-net-viona, virtio-rnd, virtio-rng, virtio-vsock)");
    }

    @Test
    void aBhyveDeviceWeLackIsAProvidersWhenOneOffersItButUartStaysAnLpcDevice() throws Exception {
        Arguments.Plan plan = Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s", "5,e1000,mac=x"),
                INSTALLED);
        assertThat(plan.configs().get(1).properties()).containsEntry("type", "e1000").containsEntry("mac", "x");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s", "5,e1000"),
                Set.of())).hasMessageContaining("this VMM has no e1000 device");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s", "5,uart"),
                INSTALLED)).hasMessageContaining("this VMM has no uart device");
    }

    @Test
    void bhyvesBuiltInNamesAreReadAsBeforeWhenAProviderOffersTheirType() throws Exception {
        Arguments.Plan with = Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s",
                "5,virtio-rnd,max-bytes-per-request=64"), INSTALLED);
        Arguments.Plan without = Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s",
                "5,virtio-rnd,max-bytes-per-request=64"));
        assertThat(with.configs()).isEqualTo(without.configs());
        assertThat(with.configs().get(1).properties()).containsEntry("type", "virtio-rng");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom(), "-s",
                "5,virtio-rng,max-bytes-per-request=x"), INSTALLED)).hasMessageContaining("is not a number");
    }

    @Test
    void aDirectoryStandsForTheJarsInItSortedAndAMissingPathIsOneLine() throws Exception {
        Path d = Files.createDirectories(dir.resolve("bundles"));
        Files.createFile(d.resolve("b.jar"));
        Files.createFile(d.resolve("a.jar"));
        Files.createFile(d.resolve("notes.txt"));
        Path single = Files.createFile(dir.resolve("c.jar"));
        assertThat(UserBundles.jars(List.of(d, single))).containsExactly(d.resolve("a.jar").toAbsolutePath(),
                d.resolve("b.jar").toAbsolutePath(), single.toAbsolutePath());
        assertThatThrownBy(() -> UserBundles.jars(List.of(dir.resolve("gone.jar"))))
                .hasMessage("--bundle " + dir.resolve("gone.jar") + ": no such file or directory");
    }

    @Test
    void felixsResolverMessageIsOneLineNamingTheMissingRequirementOnce() {
        Exception e = new Exception("Unable to resolve x [23](R 23.0): missing requirement [x] osgi.wiring.package;"
                + " (osgi.wiring.package=a)\nUnresolved requirements: [[x] osgi.wiring.package;"
                + " (osgi.wiring.package=a)]");
        assertThat(UserBundles.oneLine(e)).isEqualTo("Unable to resolve x [23](R 23.0): missing requirement [x] "
                + "osgi.wiring.package; (osgi.wiring.package=a)");
    }

    @Test
    void helpListsEveryProvidersTypeWithItsImplementations() {
        assertThat(UserBundles.describe(Map.of("my-device", List.of("fast (example.my 1.0.0)"))))
                .contains("installed device providers").contains("\n       my-device: fast (example.my 1.0.0)");
        assertThat(UserBundles.describe(Map.of())).endsWith("none");
    }
}
