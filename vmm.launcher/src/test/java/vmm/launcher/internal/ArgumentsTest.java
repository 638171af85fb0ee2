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
    void swapWaitMsIsADeviceVariableCheckedBeforeAnythingStarts() throws Exception {
        Path img = Files.createFile(dir.resolve("disk.img"));
        assertThat(Arguments.emulation("virtio-blk," + img + ",swap-wait-ms=60000")).containsEntry("swap-wait-ms", "60000");
        assertThat(Arguments.emulation("virtio-rng")).doesNotContainKey("swap-wait-ms");
        assertThatThrownBy(() -> Arguments.emulation("virtio-rng,swap-wait-ms=0"))
                .hasMessage("virtio-rng: swap-wait-ms=0 must be 1..3600000");
        assertThatThrownBy(() -> Arguments.emulation("virtio-rng,swap-wait-ms=soon"))
                .hasMessage("virtio-rng: swap-wait-ms=soon is not a number");
    }

    @Test
    void removableIsABooleanDeviceVariableForHotplug() throws Exception {
        Path img = Files.createFile(dir.resolve("disk.img"));
        assertThat(Arguments.emulation("virtio-blk," + img + ",removable")).containsEntry("removable", "true");
        assertThat(Arguments.emulation("virtio-rng,removable=no")).containsEntry("removable", "false");
        assertThat(Arguments.emulation("virtio-rng")).doesNotContainKey("removable");
        assertThatThrownBy(() -> Arguments.emulation("virtio-rng,removable=maybe"))
                .hasMessage("virtio-rng: removable=maybe is not a boolean (true/false, yes/no, on/off, 1/0)");
    }

    @Test
    void vfioUserServesTheSameEmulationsAsAVfioUserConfiguration() throws Exception {
        Path img = Files.createFile(dir.resolve("disk.img"));
        Arguments.Plan plan = Arguments.parse(List.of("vfio-user", "--socket=" + dir.resolve("v.sock"), "virtio-blk," + img));

        assertThat(plan.command()).isEqualTo("vfio-user");
        Arguments.Config c = plan.configs().getFirst();
        assertThat(c.factoryPid()).isEqualTo("vmm.vfio-user");
        assertThat(c.properties()).containsEntry("type", "virtio-blk").containsEntry("path", img.toString())
                .containsEntry("socket", dir.resolve("v.sock").toString());
        assertThatThrownBy(() -> Arguments.parse(List.of("vfio-user", "virtio-rng"))).hasMessage("vfio-user: --socket PATH is required");
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
    void passthruTakesBhyvesAndLinuxsHostFormsAndAVfioUserSocket() throws Exception {
        String rom = "/usr/share/seabios/bios-256k.bin";
        Path sock = Files.createFile(dir.resolve("dev.sock"));
        Arguments.Plan plan = Arguments.parse(List.of("run", "-s", "6,passthru,1/0/0", "-s", "7:1,passthru,0000:af:00.1",
                "-s", "8,passthru,vfio-user=" + sock, "-l", "bootrom," + rom));
        List<Arguments.Config> pt = plan.configs().stream().filter(c -> c.factoryPid().equals("device.pci-passthru")).toList();
        assertThat(pt).extracting(Arguments.Config::name).containsExactly("s6_0", "s7_1", "s8_0");
        assertThat(pt.get(0).properties()).containsEntry("address", "0:6.0").containsEntry("host", "1/0/0");
        assertThat(pt.get(1).properties()).containsEntry("address", "0:7.1").containsEntry("host", "0000:af:00.1");
        assertThat(pt.get(2).properties()).containsEntry("host", "vfio-user=" + sock.toAbsolutePath());
    }

    @Test
    void passthruWithoutAHostOrWithAMalformedOneOrAMissingSocketIsNamed() {
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "6,passthru"))).hasMessageContaining("passthru needs the host device");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "6,passthru,1:0"))).hasMessageContaining("host device '1:0' is not BUS/SLOT/FUNC or DDDD:BB:DD.F");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "6,passthru,vfio-user=/no/such.sock")))
                .hasMessageContaining("/no/such.sock: no vfio-user socket there");
    }

    @Test
    void noArgumentsOrHelpAsksForTheUsage() throws Exception {
        assertThat(Arguments.parse(List.of()).command()).isEqualTo("help");
        assertThat(Arguments.parse(List.of("--help")).command()).isEqualTo("help");
    }

    @Test
    void anUnknownEmulationIsNamedWithTheKnownOnes() {
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-gpu")))
                .hasMessage("unknown emulation 'virtio-gpu' (known: virtio-blk, virtio-net, virtio-net-viona, virtio-rnd, virtio-rng, virtio-vsock)");
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
    void aDiskOptionNothingReadsIsKeptAndNamedInOneWarningAndAnEmptyValueIsRefused() throws Exception {
        Path img = Files.createFile(dir.resolve("d.img"));
        Arguments.Plan plan = Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-blk," + img + ",fast"));
        assertThat(plan.warnings()).containsExactly("warning: nothing here reads fast (kept for %(var) references; a typo?)");
        assertThat(plan.configs().getFirst().properties()).doesNotContainKey("fast");
        assertThatThrownBy(() -> Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s").toString(), "virtio-blk," + img + ",ser=")))
                .hasMessage("option 'ser=' has no value");
    }

    /** A minimal bzImage (boot protocol 2.15, 64-bit entry) as the setup header in boot.rst lays it out. */
    private Path bzImage() throws Exception {
        return Files.write(dir.resolve("bzImage"), bzImageBytes());
    }

    static byte[] bzImageBytes() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(0x1000).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 3).putShort(0x1fe, (short) 0xaa55).put(0x200, (byte) 0xeb).put(0x201, (byte) (0x26c - 0x202));
        b.put(0x202, "HdrS".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putShort(0x206, (short) 0x020f);
        b.put(0x211, (byte) 1).putInt(0x22c, 0x7fffffff).put(0x234, (byte) 1).putShort(0x236, (short) 1)
                .putInt(0x238, 2047).putLong(0x258, 0x1000000).putInt(0x260, 0x800000);
        return b.array();
    }

    @Test
    void aKernelWithInitrdAndCommandLineBecomesTheVmConfigurationWithoutABootRom() throws Exception {
        Path kernel = bzImage(), initrd = Files.write(dir.resolve("initrd.img"), new byte[4096]);
        Arguments.Plan plan = Arguments.parse(List.of("run", "-m", "128M", "--kernel", kernel.toString(), "--initrd",
                initrd.toString(), "--cmdline", "console=ttyS0 quiet", "-l", "com1,stdio"));

        Arguments.Config vm = plan.configs().getFirst();
        assertThat(vm.factoryPid()).isEqualTo("vmm.vm");
        assertThat(vm.properties()).containsEntry("kernel", kernel.toAbsolutePath().toString())
                .containsEntry("initrd", initrd.toAbsolutePath().toString()).containsEntry("cmdline", "console=ttyS0 quiet")
                .doesNotContainKey("bootrom");
        assertThat(Arguments.parse(List.of("run", "--kernel=" + kernel, "--cmdline=ro")).configs().getFirst().properties())
                .containsEntry("cmdline", "ro").doesNotContainKey("initrd");
    }

    @Test
    void aKernelFileThatIsNotAKernelIsOneLineNamingIt() throws Exception {
        Path notes = Files.writeString(dir.resolve("notes.txt"), "not a kernel ".repeat(100));
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "--kernel", notes.toString())))
                .isInstanceOf(Arguments.UsageException.class).hasMessageContaining(notes.toString())
                .hasMessageContaining("not a Linux kernel").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "--kernel", dir.resolve("none").toString())))
                .hasMessageContaining("no such kernel file");
    }

    @Test
    void anInitrdThatDoesNotFitInTheGuestsRamIsRefused() throws Exception {
        Path kernel = bzImage(), initrd = dir.resolve("big.img");
        try (var f = new java.io.RandomAccessFile(initrd.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-m", "64M", "--kernel", kernel.toString(), "--initrd", initrd.toString())))
                .isInstanceOf(Arguments.UsageException.class).hasMessageContaining(initrd.toString()).hasMessageContaining("does not fit in RAM");
    }

    @Test
    void theKernelOptionsGoTogetherAndNotWithABootRom() throws Exception {
        Path kernel = bzImage(), rom = Files.write(dir.resolve("rom.bin"), new byte[4096]);
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "--initrd", kernel.toString(), "-l", "bootrom," + rom)))
                .hasMessageContaining("--initrd goes with --kernel");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "--kernel", kernel.toString(), "-l", "bootrom," + rom)))
                .hasMessageContaining("not both");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-c", "2"))).hasMessageContaining("--kernel FILE");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "--kernel"))).hasMessageContaining("--kernel needs a file");
    }

    @Test
    void noRebootWritesRebootFalseIntoTheVmConfigurationAndItsAbsenceLeavesTheDefault() throws Exception {
        Path rom = java.nio.file.Files.write(dir.resolve("rom.bin"), new byte[64 << 10]);
        Arguments.Config off = Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--no-reboot", "vm1")).configs().getFirst();
        assertThat(off.factoryPid()).isEqualTo("vmm.vm");
        assertThat(off.properties()).containsEntry("reboot", "false").containsEntry("name", "vm1");
        Arguments.Config on = Arguments.parse(List.of("run", "-l", "bootrom," + rom)).configs().getFirst();
        assertThat(on.properties()).doesNotContainKey("reboot");
    }

    @Test
    void deterministicAsksForAReproducibleRunOnTheSoftwareCpuAndRefusesKvm() throws Exception {
        Path rom = java.nio.file.Files.write(dir.resolve("rom.bin"), new byte[64 << 10]);
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--deterministic")).configs().getFirst()
                .properties()).containsEntry("deterministic", "true").containsEntry("accel", "emu");
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "deterministic=yes", "--accel", "emu"))
                .configs().getFirst().properties()).containsEntry("deterministic", "true");
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom)).configs().getFirst().properties())
                .doesNotContainKey("deterministic");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--deterministic", "--accel", "kvm")))
                .isInstanceOf(Arguments.UsageException.class)
                .hasMessageContaining("deterministic").hasMessageContaining("software CPU");
    }

    @Test
    void accelNamesTheCpuBackEndByFlagOrOptionAndAnythingElseIsOneLine() throws Exception {
        Path rom = java.nio.file.Files.write(dir.resolve("rom.bin"), new byte[64 << 10]);
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--accel", "emu")).configs().getFirst().properties())
                .containsEntry("accel", "emu");
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--accel=kvm")).configs().getFirst().properties())
                .containsEntry("accel", "kvm");
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "vm.accel=auto")).configs().getFirst().properties())
                .containsEntry("accel", "auto");
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom)).configs().getFirst().properties())
                .doesNotContainKey("accel");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--accel", "tcg")))
                .hasMessage("--accel tcg: the accelerator is auto, kvm or emu");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "--accel")))
                .hasMessage("--accel needs auto, kvm or emu");
    }

    @Test
    void accelAloneIsTheBuiltInDefaultVmOnThatBackEnd() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/usr/share/seabios/bios-256k.bin")),
                "no SeaBIOS: the default VM needs it");
        Arguments.Plan plain = Arguments.parse(List.of("run"));
        Arguments.Plan emu = Arguments.parse(List.of("run", "--accel", "emu"));
        assertThat(emu.configs()).hasSameSizeAs(plain.configs());
        assertThat(emu.configs().getFirst().properties()).containsEntry("accel", "emu")
                .containsEntry("name", plain.configs().getFirst().properties().get("name"));
        assertThat(Arguments.parse(List.of("run", "--accel=kvm")).configs().getFirst().properties())
                .containsEntry("accel", "kvm");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "--accel", "tcg")))
                .hasMessage("--accel tcg: the accelerator is auto, kvm or emu");
    }

    @Test
    void virtioVsockTakesTheGuestCidAndTheHostSocket() throws Exception {
        Path rom = java.nio.file.Files.write(dir.resolve("rom.bin"), new byte[64 << 10]);
        Arguments.Plan plan = Arguments.parse(List.of("run", "-s", "9,virtio-vsock,cid=3,path=" + dir.resolve("vm.vsock"),
                "-l", "bootrom," + rom));
        Arguments.Config c = plan.configs().stream().filter(x -> "virtio-vsock".equals(x.properties().get("type")))
                .findFirst().orElseThrow();
        assertThat(c.properties()).containsEntry("address", "0:9.0").containsEntry("cid", "3")
                .containsEntry("path", dir.resolve("vm.vsock").toAbsolutePath().toString());
        Arguments.Plan served = Arguments.parse(List.of("vhost-user", "--socket", dir.resolve("s.sock").toString(),
                "virtio-vsock,cid=7,path=" + dir.resolve("p")));
        assertThat(served.configs().getFirst().properties()).containsEntry("type", "virtio-vsock").containsEntry("cid", "7");
    }

    @Test
    void aBadVsockCidOrPathIsOneLine() {
        String p = ",path=" + dir.resolve("vm.vsock");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "9,virtio-vsock" + p)))
                .hasMessageContaining("virtio-vsock needs the guest's CID: virtio-vsock,cid=3,path=/run/vm.vsock");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "9,virtio-vsock,cid=2" + p)))
                .hasMessageContaining("virtio-vsock: cid=2 must be 3..4294967294 (0-2 are reserved)");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "9,virtio-vsock,cid=x" + p)))
                .hasMessageContaining("virtio-vsock: cid=x is not a number");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "9,virtio-vsock,cid=3")))
                .hasMessageContaining("virtio-vsock needs the host socket: virtio-vsock,cid=3,path=/run/vm.vsock");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "9,virtio-vsock,cid=3,path=/no/such/dir/v")))
                .hasMessageContaining("virtio-vsock: path=/no/such/dir/v: the directory /no/such/dir does not exist");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-s", "9,virtio-vsock,cid=3,path=" + dir)))
                .hasMessageContaining("is a directory");
    }

    @Test
    void restoreTakesASnapshotFileAndAVmNameAndNothingElse() throws Exception {
        Path snap = dir.resolve("vm.snap");
        Files.write(snap, new byte[] {1});
        Arguments.Plan p = Arguments.parse(List.of("run", "-r", snap.toString(), "again"));
        assertThat(p.command()).isEqualTo("restore");
        assertThat(p.configs().getFirst().properties()).containsEntry("file", snap.toAbsolutePath().toString())
                .containsEntry("name", "again");
        assertThat(Arguments.parse(List.of("run", "-r=" + snap)).configs().getFirst().properties())
                .doesNotContainKey("name");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-c", "2", "-r", snap.toString())))
                .isInstanceOf(Arguments.UsageException.class)
                .hasMessage("-r FILE: -c cannot go with a restore: the machine's configuration comes from the snapshot"
                        + " (-l and -s may replace back ends)");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-r", dir.resolve("none.snap").toString())))
                .hasMessageEndingWith("none.snap: no such file");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-r")))
                .hasMessageContaining("-r needs a snapshot file");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-r", snap.toString(), "a", "b")))
                .hasMessage("-r: one VM name, not 'a' and 'b'");
    }

    @Test
    void restoreTakesNewBackEndsForComPortsAndPciDevicesCheckedAsInARun() throws Exception {
        Path snap = dir.resolve("vm.snap"), disk = dir.resolve("other.img");
        Files.write(snap, new byte[] {1});
        Files.write(disk, new byte[512]);
        Arguments.Plan p = Arguments.parse(List.of("run", "-r", snap.toString(), "-l", "com1,log=/tmp/c.log", "-s",
                "4,virtio-blk," + disk));
        @SuppressWarnings("unchecked")
        List<Arguments.Config> replace = (List<Arguments.Config>) p.configs().getFirst().properties()
                .get(Arguments.REPLACE);
        assertThat(replace).hasSize(2);
        assertThat(replace.get(0).properties()).containsEntry("port", "com1")
                .containsEntry("backend", "log=/tmp/c.log");
        assertThat(replace.get(1).properties()).containsEntry("address", "0:4.0").containsEntry("type", "virtio-blk")
                .containsEntry("path", disk.toString());
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-r", snap.toString(), "-l", "com1,telepathy")))
                .hasMessageContaining("the backend must be stdio");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-r", snap.toString(), "-l", "bootrom,x.bin")))
                .hasMessageContaining("com1 or com2 only");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-r", snap.toString(), "-s",
                "4,virtio-blk," + dir.resolve("none.img")))).hasMessageContaining("no such file");
    }
}
