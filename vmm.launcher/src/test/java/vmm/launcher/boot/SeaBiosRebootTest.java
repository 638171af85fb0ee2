package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.platform.PcMachine;
import vmm.launcher.RebootDisk;

/**
 * A guest reset restarts the machine in place: SeaBIOS runs its whole POST
 * again (its banner twice), reads our disk again, and the boot sector, whose
 * boot count lives in CMOS NVRAM, powers off on its second boot. With
 * {@code reboot=false} the run ends at the first reset with that outcome.
 * Either way no instruction after the guest's reset or power-off write runs.
 */
class SeaBiosRebootTest {
    @TempDir
    Path dir;

    private record Run(PcMachine.Exit exit, int bootCount, int ranPast, int resets, String log) {}

    private Run boot(String accel, boolean reboot) throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS), "no " + SeaBiosBootTest.SEABIOS + ": apt-get install seabios");
        BackEnd.require(accel);
        Path disk = dir.resolve("reboot.img");
        RebootDisk.write(disk);
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 2, Files.readAllBytes(SeaBiosBootTest.SEABIOS), reboot),
                     firmwareLog::add)) {
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk",
                    new VirtioBlockProvider());
            vm.start();
            Optional<PcMachine.Exit> exit = vm.awaitExit(Duration.ofSeconds(120));
            String log = String.join("\n", firmwareLog);
            assertThat(exit).as("the VM ended; firmware log:%n%s", log).isPresent();
            vm.machine().ioPorts().write(0x70, 1, RebootDisk.COUNTER);
            int count = (int) vm.machine().ioPorts().read(0x71, 1);
            vm.machine().ioPorts().write(0x70, 1, RebootDisk.RAN_PAST);
            int ranPast = (int) vm.machine().ioPorts().read(0x71, 1);
            return new Run(exit.get(), count, ranPast, vm.resets(), log);
        }
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void aResetThroughCf9RestartsTheMachineAndTheSecondBootPowersOff(String accel) throws Exception {
        Run r = boot(accel, true);
        assertThat(r.exit().outcome()).as(r.exit().detail() + "\n" + r.log()).isEqualTo(PcMachine.Outcome.POWER_OFF);
        assertThat(r.bootCount()).as("boots counted in CMOS").isEqualTo(2);
        assertThat(r.ranPast()).as("the guest ran past its reset (1) or power-off (2) write").isZero();
        assertThat(r.resets()).isEqualTo(1);
        assertThat(r.log().split("BUILD: gcc", -1)).as("SeaBIOS's build line, once per POST").hasSize(3);
        assertThat(r.log().split("Moving pm_base to", -1)).as("the ACPI tables loaded each time").hasSize(3);
        assertThat(r.log().split("Booting from Hard Disk", -1)).hasSize(3);
        assertThat(r.log().split("Found 2 cpu\\(s\\)", -1)).as("the second vCPU answered SeaBIOS's INIT/SIPI after the reset too")
                .hasSize(3);
        assertThat(r.log()).as("a fresh POST, not SeaBIOS's soft-reboot path").doesNotContain("In resume");
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void withRebootOffTheRunEndsAtTheFirstResetWithTheResetOutcome(String accel) throws Exception {
        Run r = boot(accel, false);
        assertThat(r.exit().outcome()).as(r.exit().detail()).isEqualTo(PcMachine.Outcome.RESET);
        assertThat(r.exit().detail()).contains("0xcf9");
        assertThat(r.bootCount()).isEqualTo(1);
        assertThat(r.ranPast()).as("the guest ran past its reset write").isZero();
        assertThat(r.resets()).isZero();
    }
}
