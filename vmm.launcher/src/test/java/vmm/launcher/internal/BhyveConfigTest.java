package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bhyve's configuration model: bhyve_config(5) files and {@code -o} set the variables, the flags are shorthands
 * for them, and every bad value is one line naming where it was set.
 */
class BhyveConfigTest {
    @TempDir
    Path dir;
    private Path rom, img, oldNet;

    @BeforeEach
    void files() throws Exception {
        rom = Files.write(dir.resolve("rom.bin"), new byte[4096]);
        img = Files.write(dir.resolve("disk.img"), new byte[4096]);
        for (String tap : List.of("tap0", "tap1", "tap2")) Files.createDirectories(dir.resolve("net").resolve(tap));
        oldNet = Arguments.sysClassNet;
        Arguments.sysClassNet = dir.resolve("net");
    }

    @AfterEach
    void restore() {
        Arguments.sysClassNet = oldNet;
    }

    private static Map<String, Object> config(Arguments.Plan plan, String pid, String name) {
        return plan.configs().stream().filter(c -> c.factoryPid().equals(pid) && Objects.equals(c.name(), name))
                .findFirst().orElseThrow(() -> new AssertionError("no " + pid + " " + name + " in "
                        + plan)).properties();
    }

    private static Arguments.Plan run(String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("run"));
        all.addAll(List.of(args));
        return Arguments.parse(all);
    }

    @Test
    void aBhyveConfigFileWithCommentsExpansionAndBooleansIsTheSameVmAsTheFlags() throws Exception {
        Path file = Files.writeString(dir.resolve("vm.conf"), """
                # a bhyve_config(5) file
                name=myvm
                cpus=2
                memory.size=256M
                  # indented comment
                images=%s
                pci.0.0.0.device=hostbridge
                pci.0.4.0.device=virtio-blk
                pci.0.4.0.path=%%(images)/disk.img
                pci.0.4.0.ro=Yes
                pci.0.4.0.ser=100%%%%
                lpc.com1.path=stdio
                lpc.bootrom=%s

                """.formatted(dir, rom));
        Arguments.Plan fromFile = run("-k", file.toString());
        Arguments.Plan fromFlags = run("-c", "2", "-m", "256M", "-s", "0,hostbridge", "-s", "4,virtio-blk," + img
                + ",ro,ser=100%",
                "-l", "com1,stdio", "-l", "bootrom," + rom, "myvm");

        assertThat(fromFile.configs()).containsExactlyInAnyOrderElementsOf(fromFlags.configs());
        assertThat(config(fromFile, "vmm.device", "s4_0")).containsEntry("path", img.toString()).containsEntry("ro",
                "true")
                .containsEntry("serial", "100%");
        assertThat(fromFile.warnings()).as("images is read through %(images)").isEmpty();
    }

    @Test
    void oSetsBhyvesVariablesAndFlagsAreShorthandsForThem() throws Exception {
        Arguments.Plan plan = run("-l", "bootrom," + rom, "-o", "memory.size=96M", "-o", "cpus=3", "-o", "name=o-vm",
                "-o", "pci.0.5.0.device=virtio-blk", "-o", "pci.0.5.0.path=" + img, "-o",
                        "pci.0.5.0.sectorsize=4096/4096",
                "-o", "lpc.com2.path=none");
        assertThat(config(plan, "vmm.vm", null)).containsEntry("memory.size", "96M").containsEntry("vcpus", 3)
                .containsEntry("name", "o-vm");
        assertThat(config(plan, "vmm.device", "s5_0")).containsEntry("type", "virtio-blk").containsEntry("sectorsize",
                "4096/4096");
        assertThat(config(plan, "vmm.device", "com2")).containsEntry("backend", "none");
        assertThat(run("-l", "bootrom," + rom, "-m", "256").configs().getFirst().properties())
                .as("bhyve: a bare size below 1 MiB is megabytes").containsEntry("memory.size", "256M");
    }

    @Test
    void thePathFormAndTheBarePathAreTheSameDisk() throws Exception {
        Arguments.Plan bare = run("-l", "bootrom," + rom, "-s", "4,virtio-blk," + img);
        Arguments.Plan keyed = run("-l", "bootrom," + rom, "-s", "4,virtio-blk,path=" + img);
        assertThat(keyed.configs()).isEqualTo(bare.configs());
        Arguments.Plan net = run("-l", "bootrom," + rom, "-s", "5,virtio-net,backend=tap0,mtu=9000");
        assertThat(config(net, "vmm.device", "s5_0")).containsEntry("tap", "tap0").containsEntry("mtu", "9000");
    }

    @Test
    void cTakesBhyvesTopologyWhoseProductIsTheCpuCount() throws Exception {
        assertThat(run("-l", "bootrom," + rom, "-c", "cpus=4,sockets=2,cores=2").configs().getFirst().properties())
                .containsEntry("vcpus", 4);
        assertThat(run("-l", "bootrom," + rom, "-c", "sockets=2,cores=2,threads=2").configs().getFirst().properties())
                .containsEntry("vcpus", 8);
        assertThatThrownBy(() -> run("-l", "bootrom," + rom, "-c", "4,sockets=3"))
                .hasMessage("-c 4,sockets=3: cpus=4 but sockets*cores*threads = 3");
        assertThatThrownBy(() -> run("-l", "bootrom," + rom, "-c",
                "4,dies=2")).hasMessageContaining("'dies=2' is not cpus=");
    }

    @Test
    void configDumpPrintsTheSortedVariablesAndRunsNothing() throws Exception {
        Arguments.Plan plan = run("-c", "2", "-m", "256", "-H", "-P", "-s", "0:0,hostbridge", "-s",
                "1:0,virtio-net,tap0",
                "-s", "2:0,ahci-hd,./vm0.img", "-s", "31,lpc", "-l", "com1,stdio", "-o", "config.dump=1", "vm0");
        assertThat(plan.command()).isEqualTo("dump");
        assertThat(plan.configs()).isEmpty();
        assertThat(plan.output()).isEqualTo("""
                config.dump=1
                cpus=2
                lpc.com1.path=stdio
                memory.size=256
                name=vm0
                pci.0.0.0.device=hostbridge
                pci.0.1.0.backend=tap0
                pci.0.1.0.device=virtio-net
                pci.0.2.0.device=ahci-hd
                pci.0.2.0.port.0.path=./vm0.img
                pci.0.2.0.port.0.type=hd
                pci.0.31.0.device=lpc
                x86.vmexit_on_hlt=true
                x86.vmexit_on_pause=true
                """);
        // The dump, less its config.dump line, is a bhyve_config(5) file that reads back to the same variables.
        Path file = Files.writeString(dir.resolve("configfile"), plan.output().replace("config.dump=1\n", ""));
        assertThat(run("-k", file.toString(), "-o",
                "config.dump=true").output()).isEqualTo(plan.output().replace("=1\n", "=true\n"));
    }

    @Test
    void aVariableNothingReadsIsKeptForReferencesAndNamedInOneWarning() throws Exception {
        Path file = Files.writeString(dir.resolve("vm.conf"), "lpc.bootrom=" + rom + "\nmemroy.size=1G\nvm_dir=" + dir
                + "\npci.0.4.0.device=virtio-blk\npci.0.4.0.path=%(vm_dir)/disk.img\n");
        Arguments.Plan plan = run("-k", file.toString(), "-w");
        assertThat(plan.warnings()).containsExactly(
                "warning: nothing here reads memroy.size, x86.strictmsr (kept for %(var) references; a typo?)");
        assertThat(config(plan, "vmm.device", "s4_0")).containsEntry("path", img.toString());
    }

    @Test
    void badInputIsOneLineNamingTheFileTheLineAndTheVariable() throws Exception {
        Path file = dir.resolve("bad.conf");
        Files.writeString(file, "lpc.bootrom=" + rom + "\n# fine\nmemory.size\n");
        assertThatThrownBy(() -> run("-k", file.toString())).hasMessage(file + ":3: 'memory.size' is not var=value");
        Files.writeString(file, "lpc.bootrom=" + rom + "\nmemory.size=12Q\n");
        assertThatThrownBy(() -> run("-k", file.toString())).hasMessageStartingWith(file
                + ":2: memory.size: malformed memory size");
        Files.writeString(file, "lpc.bootrom=" + rom + "\npci.0.4.0.device=virtio-blk\npci.0.4.0.path=" + img
                + "\npci.0.4.0.ro=maybe\n");
        assertThatThrownBy(() -> run("-k", file.toString()))
                .hasMessage(file
                        + ":2: pci.0.4.0.device: virtio-blk: ro=maybe is not a boolean (true/false, yes/no, on/off, "
                                + "1/0)");
        Files.writeString(file, "lpc.bootrom=" + rom + "\nname=%(disk)\ndisk=/images/%(name)\n");
        assertThatThrownBy(() -> run("-k", file.toString()))
                .hasMessage(file + ":2: name: name refers to itself through %(disk) -> %(name)");
        Files.writeString(file, "lpc.bootrom=" + rom + "\nname=%(nothing)\n");
        assertThatThrownBy(() -> run("-k", file.toString())).hasMessage(file
                + ":2: name: name: %(nothing) names no variable");
        Files.writeString(file, "lpc.bootrom=" + rom + "\nreboot=sometimes\n");
        assertThatThrownBy(() -> run("-k", file.toString())).hasMessageStartingWith(file
                + ":2: reboot: reboot=sometimes is not a boolean");
        Files.writeString(file, "memory=1G\nmemory.size=1G\n");
        assertThatThrownBy(() -> run("-k", file.toString()))
                .hasMessage(file + ":2: memory.size: memory has a value (memory=1G), so it cannot hold memory.size");
    }

    @Test
    void aBadDeviceOptionIsOneLineBeforeAnythingStarts() throws Exception {
        String sock = dir.resolve("s.sock").toString();
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", sock,
                "virtio-net,tap0,mac=zz:zz:zz:zz:zz:zz")))
                .hasMessage("virtio-net: mac=zz:zz:zz:zz:zz:zz is not a MAC address (six hex octets, "
                        + "52:54:00:12:34:56)");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", sock,
                "virtio-net,tap0,mac=52:54:00:12:34")))
                .hasMessageContaining("is not a MAC address");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", sock,
                "virtio-net,tap0,mac=01:00:5e:00:00:01")))
                .hasMessage("virtio-net: mac=01:00:5e:00:00:01 is a multicast or zero address; a card needs a "
                        + "unicast one");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", sock, "virtio-net,tap0,mtu=20")))
                .hasMessage("virtio-net: mtu=20 must be 68..65535");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", sock, "virtio-blk," + img
                + ",sectorsize=1000")))
                .hasMessageContaining("sectorsize=1000 is not logical[/physical]");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", sock, "virtio-blk," + img + ",ser="
                + "x".repeat(21))))
                .hasMessageContaining("at most 20 printable ASCII characters");
    }

    @Test
    void blockVariablesMeanWhatTheyMeanInBhyve() throws Exception {
        Arguments.Plan plan = run("-l", "bootrom," + rom, "-s", "4,virtio-blk," + img + ",nodelete,direct,nocache");
        assertThat(config(plan, "vmm.device", "s4_0")).containsEntry("discard", "false").containsEntry("wce", "false");
        assertThat(plan.warnings()).containsExactly(
                "warning: virtio-blk: nocache: the image is read through the host's page cache here; ignored");
    }

    // The examples of bhyve(8), as they are or with the boot ROM this machine needs (bhyve's bhyveload has no
    // peer here).

    @Test
    void bhyveExampleOneVirtioBlockDiskAndASerialConsoleRuns() throws Exception {
        Arguments.Plan plan = run("-c", "2", "-s", "0,hostbridge", "-s", "1,lpc", "-s", "2,virtio-blk," + img,
                "-l", "com1,stdio", "-H", "-P", "-m", "1G", "-l", "bootrom," + rom, "vm1");
        assertThat(config(plan, "vmm.vm", null)).containsEntry("vcpus", 2).containsEntry("memory.size", "1G")
                .containsEntry("name", "vm1").containsEntry("serial.console", 0x3f8);
        assertThat(config(plan, "vmm.device", "s2_0")).containsEntry("type", "virtio-blk").containsEntry("path",
                img.toString());
        assertThat(plan.warnings()).as("-H and -P: HLT and PAUSE leave guest mode here anyway").isEmpty();
        assertThatThrownBy(() -> run("-c", "2", "-s", "0,hostbridge", "-s", "1,lpc", "-s", "2,virtio-blk," + img,
                "-l", "com1,stdio", "-H", "-P", "-m", "1G", "vm1")).hasMessageStartingWith("run: no boot path");
    }

    @Test
    void bhyveExampleThreeNetworkPortsOneWithAMacRuns() throws Exception {
        Arguments.Plan plan = run("-s", "0,hostbridge", "-s", "1,lpc", "-s", "2:0,virtio-net,tap0", "-s",
                "2:1,virtio-net,tap1",
                "-s", "2:2,virtio-net,tap2,mac=00:be:fa:76:45:00", "-s", "3,virtio-blk," + img, "-l", "com1,stdio",
                "-HP", "-m", "24G", "-l", "bootrom," + rom, "bigvm");
        assertThat(config(plan, "vmm.device", "s2_1")).containsEntry("tap", "tap1");
        assertThat(config(plan, "vmm.device", "s2_2")).containsEntry("tap", "tap2").containsEntry("mac",
                "00:be:fa:76:45:00");
        assertThat(config(plan, "vmm.vm", null)).containsEntry("memory.size", "24G").containsEntry("name", "bigvm");
    }

    @Test
    void bhyveExamplesWithDevicesThisMachineLacksAreRefusedNamingThem() {
        // As printed, the AHCI example puts lpc and ahci both at slot 1, which bhyve refuses too.
        assertThatThrownBy(() -> run("-c", "4", "-s", "0,amd_hostbridge", "-s", "1,lpc", "-s",
                "1:0,ahci,hd:/images/disk.1,hd:/images/disk.2,cd:/images/install.iso", "-s", "3,virtio-net,tap0",
                "-l", "com1,/dev/nmdm0A", "-H", "-P", "-m",
                        "8G")).hasMessage("-s 1:0,ahci,hd:/images/disk.1,hd:/images/disk.2,"
                + "cd:/images/install.iso: slot 1:0 is used twice");
        assertThatThrownBy(() -> run("-c", "4", "-s", "0,amd_hostbridge", "-s", "31,lpc", "-s",
                "2,ahci,hd:/images/disk.1,cd:/images/install.iso", "-s", "3,virtio-net,tap0", "-l", "com1,stdio", "-H",
                        "-P", "-m", "8G"))
                .hasMessageStartingWith("-s 2,ahci,hd:/images/disk.1,cd:/images/install.iso: ahci: this VMM has no "
                        + "ahci device (it has: ");
        assertThatThrownBy(() -> run("-c", "2", "-m", "4G", "-w", "-H", "-s", "0,hostbridge", "-s",
                "3,ahci-cd,/path/to/install.iso",
                "-s", "4,ahci-hd,disk.img", "-s", "5,virtio-net,tap0", "-s",
                        "29,fbuf,tcp=0.0.0.0:5900,w=800,h=600,wait",
                "-s", "30,xhci,tablet", "-s", "31,lpc", "-l", "com1,tcp=127.0.0.1:1234",
                "-l", "bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd", "uefivm"))
                .hasMessageStartingWith("-s 3,ahci-cd,/path/to/install.iso: ahci-cd: this VMM has no ahci-cd device");
        assertThatThrownBy(() -> run("-c", "2", "-m", "4G", "-s", "0,hostbridge", "-s",
                "29,fbuf,tcp=[::]:5900,w=800,h=600",
                "-s", "31,lpc", "-l", "bootrom," + rom)).hasMessageContaining("fbuf: this VMM has no fbuf device");
        assertThatThrownBy(() -> run("-c", "2", "-m", "4g", "-w", "-H", "-s", "0,hostbridge", "-s", "31,lpc", "-l",
                "com1,stdio",
                "-l", "bootrom," + rom + ",BHYVE_UEFI_VARS.fd", "uefivm"))
                .hasMessage("-l bootrom," + rom
                        + ",BHYVE_UEFI_VARS.fd: lpc.bootvars: there is no UEFI variable store (SeaBIOS needs none)");
        assertThatThrownBy(() -> run("-c", "4", "-s", "0,hostbridge", "-s", "31,lpc", "-l", "com1,stdio", "-l",
                "bootrom," + rom,
                "-n", "id=0,size=4G,cpus=0-1",
                        "numavm")).hasMessage("-n: emulated NUMA domains are not supported here");
        assertThatThrownBy(() -> run("-s", "0,hostbridge", "-s", "31,lpc", "-l", "com1,/dev/nmdm0A", "-l", "bootrom,"
                + rom))
                .hasMessageContaining("/dev/nmdm0A: a tty as a COM port's back end is not supported here");
    }

    @Test
    void theConfigDumpExampleRunsUntilItsAhciDisk() throws Exception {
        Arguments.Plan dump = run("-c", "2", "-m", "256", "-H", "-P", "-s", "0:0,hostbridge", "-s",
                "3:0,virtio-net,tap0",
                "-s", "4:0,virtio-blk," + img, "-s", "31,lpc", "-l", "com1,stdio", "-l", "bootrom," + rom, "-o",
                        "config.dump=1", "vm0");
        Path file = Files.writeString(dir.resolve("configfile"), dump.output().replace("config.dump=1\n", ""));
        Arguments.Plan plan = run("-k", file.toString(), "vm0");
        assertThat(plan.command()).isEqualTo("run");
        assertThat(config(plan, "vmm.device", "s3_0")).containsEntry("tap", "tap0");
        assertThat(config(plan, "vmm.device", "s4_0")).containsEntry("path", img.toString());
        // virtio-net at 1:0, as the man page has it, is where this machine's PIIX ISA bridge is.
        assertThatThrownBy(() -> run("-s", "0:0,hostbridge", "-s", "1:0,virtio-net,tap0", "-l", "bootrom," + rom))
                .hasMessageContaining("slot 1 is the chipset's");
    }
}
