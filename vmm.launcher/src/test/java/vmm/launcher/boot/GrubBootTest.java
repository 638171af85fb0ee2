package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.uart.internal.UartComponent;
import device.virtio_block.VirtioBlockProvider;
import vmm.core.platform.PcMachine;
import vmm.testing.linux.Initramfs;

/**
 * Debian's GRUB 2 for BIOS ({@code grub-pc-bin}), unmodified, boots from our virtio-blk disk through SeaBIOS: the
 * disk is built here without root or loop devices, as {@code grub-install} would lay it out: {@code boot.img} in
 * the MBR, a {@code core.img} from {@code grub-mkimage} in the gap after it (its first sector's block list already
 * names the sectors that follow), and an ext2 partition from {@code mkfs.ext2 -d} holding {@code /boot/grub/grub.cfg}.
 * GRUB reads the partition through the BIOS disk services SeaBIOS gives our disk, runs the configuration on the
 * serial console (COM1, our 16550A), and its {@code reboot} resets the machine (made with {@code reboot=false}, so
 * the run ends there with the reset outcome). Not {@code halt}: GRUB's halt finds no {@code \_S5} it can parse in
 * our DSDT and falls back to SeaBIOS's APM, which only halts the CPU, so the machine would never end.
 *
 * <p>The second test is the chain a distribution boots: SeaBIOS, GRUB from an ext4 partition on our virtio-blk
 * ({@code mkfs.ext4 -d}), Debian's bzImage and an initramfs that GRUB loads from it with {@code linux} and {@code
 * initrd} and starts through the 32-bit boot protocol, and the kernel's busybox shell on two vCPUs, which powers
 * off through ACPI. About 45 s on the software CPU of an idle development machine, 110 s on a loaded one, most of
 * it GRUB reading the kernel through SeaBIOS's disk services in real mode.
 */
class GrubBootTest {
    static final Path GRUB_MKIMAGE = Path.of("/usr/bin/grub-mkimage"), GRUB_I386_PC = Path.of("/usr/lib/grub/i386-pc");
    static final Path MKFS_EXT2 = Path.of("/usr/sbin/mkfs.ext2"), MKFS_EXT4 = Path.of("/usr/sbin/mkfs.ext4");
    static final String MARKER = "VMM-GRUB-CFG-RAN";
    static final int SECTOR = 512, PARTITION_START = 2048, PARTITION_SECTORS = 8192;
    /** 32 MiB: Debian's kernel (8 MiB), the initramfs (2 MiB) and ext4's journal. */
    static final int LINUX_PARTITION_SECTORS = 65536;
    /** Where boot.img's code ends and the MBR's disk signature and partition table begin. */
    static final int MBR_CODE = 440;
    /** Hang guard only: GRUB is on COM1 after seconds; the test ends as soon as the machine resets. */
    static final Duration BOUND = Duration.ofSeconds(180);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void grubFromOurVirtioBlkDiskRunsItsConfigOnTheSerialConsoleAndItsRebootResetsTheMachine(String accel) throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS), "no " + SeaBiosBootTest.SEABIOS + ": apt-get install seabios");
        assumeTrue(Files.isExecutable(GRUB_MKIMAGE) && Files.isReadable(GRUB_I386_PC.resolve("boot.img")),
                "no GRUB for BIOS (" + GRUB_MKIMAGE + ", " + GRUB_I386_PC + "): apt-get install grub-pc-bin");
        assumeTrue(Files.isExecutable(MKFS_EXT2), "no " + MKFS_EXT2 + ": apt-get install e2fsprogs");
        BackEnd.require(accel);
        Path disk = grubDisk();
        Path com1 = dir.resolve("com1.log");
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 1, Files.readAllBytes(SeaBiosBootTest.SEABIOS), false), firmwareLog::add)) {
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk",
                    new VirtioBlockProvider());
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "log=" + com1));
            vm.platform().serialConsole(0x3f8);
            Optional<PcMachine.Exit> exit;
            try {
                long started = System.nanoTime();
                vm.start();
                exit = vm.awaitExit(BOUND);
                System.out.printf("GrubBootTest on %s: %d ms from start to the end of the run%n", accel,
                        (System.nanoTime() - started) / 1_000_000);
            } finally {
                uart.deactivate();   // flushes COM1's log: its writer may still hold the guest's last bytes
            }
            String console = Files.exists(com1) ? Files.readString(com1, StandardCharsets.ISO_8859_1) : "";
            String context = String.format("firmware log:%n%s%nCOM1:%n%s", String.join("\n", firmwareLog), console);
            assertThat(exit).as("the VM ended; " + context).isPresent();
            assertThat(exit.get().outcome()).as(exit.get().detail() + "\n" + context).isEqualTo(PcMachine.Outcome.RESET);
            assertThat(String.join("\n", firmwareLog)).as(context).contains("Booting from Hard Disk");
            assertThat(console).as(context).contains(MARKER);
        }
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void grubFromAnExt4PartitionOnOurVirtioBlkBootsDebiansKernelAndInitramfsToAShellOnTwoVcpus(String accel)
            throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS),
                "no " + SeaBiosBootTest.SEABIOS + ": apt-get install seabios");
        assumeTrue(Files.isExecutable(GRUB_MKIMAGE) && Files.isReadable(GRUB_I386_PC.resolve("boot.img")),
                "no GRUB for BIOS (" + GRUB_MKIMAGE + ", " + GRUB_I386_PC + "): apt-get install grub-pc-bin");
        assumeTrue(Files.isExecutable(MKFS_EXT4), "no " + MKFS_EXT4 + ": apt-get install e2fsprogs");
        Path bzImage = DebianKernel.require();
        assumeTrue(accel.equals(BackEnd.EMU) || hardwareVirtualization(), "this host's KVM emulates guest code (no"
                + " vmx/svm flag in /proc/cpuinfo): a kernel dies before user space on it; emu runs this test here");
        BackEnd.require(accel);
        Path kernelFiles = dir.resolve("kernel");
        Files.createDirectories(kernelFiles);
        Files.copy(bzImage, kernelFiles.resolve("vmlinuz"));
        new Initramfs("""
                /bin/busybox --install -s /bin
                mount -t proc proc /proc
                echo VMM-GRUB-LINUX-SHELL nproc=$(nproc)
                poweroff -f
                """).write(kernelFiles.resolve("initrd.cpio"));
        Path disk = grubDisk(List.of("echo " + MARKER, "linux /boot/vmlinuz " + LinuxDirectBootTest.SHELL_CMDLINE,
                "initrd /boot/initrd.cpio", "boot"), kernelFiles, MKFS_EXT4, LINUX_PARTITION_SECTORS, "linux");
        Path com1 = dir.resolve("com1.log");
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(512L << 20, 2, Files.readAllBytes(SeaBiosBootTest.SEABIOS), false),
                     firmwareLog::add)) {
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()),
                    "virtio-blk", new VirtioBlockProvider());
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "log=" + com1));
            vm.platform().serialConsole(0x3f8);
            try {
                long started = System.nanoTime();
                vm.start();
                Optional<PcMachine.Exit> exit = vm.awaitExit(LinuxDirectBootTest.SHELL_BOUND);
                String console = Files.exists(com1) ? Files.readString(com1, StandardCharsets.ISO_8859_1) : "";
                int grubAt = console.indexOf(MARKER), linuxAt = console.indexOf("Linux version");
                System.out.printf("GrubBootTest on %s: SeaBIOS, GRUB, Linux to its shell and power-off in %d ms%n",
                        accel, (System.nanoTime() - started) / 1_000_000);
                String context = String.format("firmware log:%n%s%nCOM1:%n%s", String.join("\n", firmwareLog), console);
                assertThat(exit).as("the VM ended; " + context).isPresent();
                assertThat(grubAt).as(context).isNotNegative();
                assertThat(linuxAt).as("the kernel after GRUB; " + context).isGreaterThan(grubAt);
                assertThat(console).as(context).contains("Command line: BOOT_IMAGE=/boot/vmlinuz")
                        .contains("VMM-GRUB-LINUX-SHELL nproc=2")
                        .contains("ACPI: PM: Preparing to enter system sleep state S5");
                assertThat(exit.get().outcome()).as(exit.get().detail() + "\n" + context)
                        .isEqualTo(PcMachine.Outcome.POWER_OFF);
            } finally {
                uart.deactivate();
            }
        }
    }

    private static boolean hardwareVirtualization() throws IOException {
        return Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\bflags\\s*:[^\\n]*\\b(vmx|svm)\\b.*");
    }

    /** The disk of the first test: GRUB runs its configuration and reboots. */
    private Path grubDisk() throws IOException, InterruptedException {
        return grubDisk(List.of("echo " + MARKER, "reboot"), null, MKFS_EXT2, PARTITION_SECTORS, "reboot");
    }

    /**
     * The disk: MBR with boot.img and one Linux partition, core.img (with the GRUB modules {@code modules} beyond
     * the common ones) in the gap, and the file system {@code mkfs} makes of {@code /boot/grub/grub.cfg} (a serial
     * console, then {@code commands}) and the files in {@code bootFiles} under {@code /boot}.
     */
    private Path grubDisk(List<String> commands, Path bootFiles, Path mkfs, int partitionSectors, String... modules)
            throws IOException, InterruptedException {
        Path root = dir.resolve("root"), grubDir = root.resolve("boot/grub");
        Files.createDirectories(grubDir);
        List<String> cfg = new ArrayList<>(List.of("serial --unit=0 --speed=115200", "terminal_input serial",
                "terminal_output serial"));
        cfg.addAll(commands);
        cfg.add("");
        Files.writeString(grubDir.resolve("grub.cfg"), String.join("\n", cfg));
        if (bootFiles != null) {
            try (var files = Files.list(bootFiles)) {
                for (Path f : files.toList()) Files.copy(f, root.resolve("boot").resolve(f.getFileName()));
            }
        }
        Path core = dir.resolve("core.img"), fs = dir.resolve("part.img");
        List<String> mkimage = new ArrayList<>(List.of(GRUB_MKIMAGE.toString(), "-O", "i386-pc", "-d",
                GRUB_I386_PC.toString(), "-o", core.toString(), "-p", "(hd0,msdos1)/boot/grub", "biosdisk",
                "part_msdos", "ext2", "normal", "serial", "echo", "terminal"));
        mkimage.addAll(List.of(modules));
        run(mkimage.toArray(String[]::new));
        run(mkfs.toString(), "-q", "-F", "-d", root.toString(), fs.toString(), (partitionSectors / 2) + "k");
        byte[] coreImage = Files.readAllBytes(core);
        assertThat(coreImage.length).as("core.img fits the gap before the partition")
                .isLessThanOrEqualTo((PARTITION_START - 1) * SECTOR);

        ByteBuffer mbr = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        mbr.put(Arrays.copyOf(Files.readAllBytes(GRUB_I386_PC.resolve("boot.img")), MBR_CODE));
        int entry = 446;                                       // the first of the four 16-byte partition entries
        mbr.put(entry, (byte) 0x80);                           // active
        mbr.put(entry + 1, new byte[] {(byte) 0xfe, (byte) 0xff, (byte) 0xff}); // CHS start: use the LBA fields
        mbr.put(entry + 4, (byte) 0x83);                       // Linux
        mbr.put(entry + 5, new byte[] {(byte) 0xfe, (byte) 0xff, (byte) 0xff});
        mbr.putInt(entry + 8, PARTITION_START).putInt(entry + 12, partitionSectors);
        mbr.put(510, (byte) 0x55).put(511, (byte) 0xaa);

        Path disk = dir.resolve("grub.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength((long) (PARTITION_START + partitionSectors) * SECTOR);
            f.write(mbr.array());
            f.seek(SECTOR);                                    // boot.img loads the first sector of core.img from LBA 1
            f.write(coreImage);
            f.seek((long) PARTITION_START * SECTOR);
            f.write(Files.readAllBytes(fs));
        }
        return disk;
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
    }
}
