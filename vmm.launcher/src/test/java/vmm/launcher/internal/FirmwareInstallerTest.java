package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A missing SeaBIOS is installed with apt-get as root, said in one line; otherwise one line says what to install. */
class FirmwareInstallerTest {
    @TempDir
    Path dir;
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final List<List<String>> ran = new ArrayList<>();

    private Arguments.MissingFirmware missing() {
        return new Arguments.MissingFirmware(dir.resolve("bios-256k.bin"), "seabios");
    }

    @Test
    void asRootTheMissingPackageIsInstalledSayingSoInOneLine() throws Exception {
        Arguments.MissingFirmware m = missing();
        new FirmwareInstaller(true, command -> {
            ran.add(command);
            Files.write(m.rom, new byte[4096]); // what the package puts there
            return 0;
        }, new PrintStream(err, true)).install(m);

        assertThat(ran).containsExactly(List.of("apt-get", "install", "-y", "-q", "--no-install-recommends",
                "seabios"));
        assertThat(err.toString()).isEqualTo("vmm: " + m.rom + " is missing: installing Debian's seabios package"
                + " (apt-get install -y seabios)" + System.lineSeparator());
    }

    @Test
    void staleOrEmptyPackageListsAreRefreshedOnceAndTheInstallTriedAgain() throws Exception {
        Arguments.MissingFirmware m = missing();
        new FirmwareInstaller(true, command -> {
            ran.add(command);
            if (command.get(1).equals("update")) return 0;
            if (ran.size() == 1) return 100; // E: Unable to locate package seabios
            Files.write(m.rom, new byte[4096]);
            return 0;
        }, new PrintStream(err, true)).install(m);
        assertThat(ran).extracting(c -> c.get(1)).containsExactly("install", "update", "install");
    }

    @Test
    void notRootIsOneLineSayingWhatToInstallAndRunsNothing() {
        Arguments.MissingFirmware m = missing();
        assertThatThrownBy(() -> new FirmwareInstaller(false, command -> {
            ran.add(command);
            return 0;
        }, new PrintStream(err, true)).install(m)).hasMessage("boot ROM " + m.rom
                + ": no such file (install it as root: apt-get install seabios)");
        assertThat(ran).isEmpty();
    }

    @Test
    void aFailedInstallOrOneThatLeavesNoRomIsOneLine() {
        Arguments.MissingFirmware m = missing();
        assertThatThrownBy(() -> new FirmwareInstaller(true, command -> 100, new PrintStream(err, true)).install(m))
                .hasMessage("apt-get install seabios failed (exit code 100): install it yourself, then run again");
        assertThatThrownBy(() -> new FirmwareInstaller(true, command -> 0, new PrintStream(err, true)).install(m))
                .hasMessage("apt-get installed seabios but " + m.rom + " is still missing");
    }
}
