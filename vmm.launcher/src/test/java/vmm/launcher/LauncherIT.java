package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import jdk.jfr.consumer.RecordingFile;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import vmm.launcher.internal.DemoDisk;

/**
 * The launcher as a user runs it: the exported {@code target/vmm.jar} in a
 * child JVM (what {@code ./vmm} execs), with a real Felix, the core, the
 * hypervisor back end and the devices. Runs in the integration-test phase,
 * after the jar is built. The SeaBIOS boots run on each back end ({@code --accel
 * kvm} where the host has KVM, {@code --accel emu} on every host).
 */
class LauncherIT {
    static final Path JAR = Path.of("target/vmm.jar");
    static final Path SEABIOS = Path.of("/usr/share/seabios/bios-256k.bin");
    /**
     * The swap test's {@code swap-wait-ms}: the guest's disk accesses wait for the swap as long as the hang guard
     * rather than the VMM's 2 s, so a loaded machine cannot turn the swap into a dropped notify.
     */
    static final long SWAP_WAIT_MS = 60_000;

    @TempDir
    Path dir;

    record Result(int exit, String output) {}

    private Result vmm(String... args) throws Exception {
        return vmmWith(List.of(), args);
    }

    /** Runs vmm.jar with the JVM options {@code jvm} (system properties) before {@code -jar}. */
    private Result vmmWith(List<String> jvm, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        // Standard output (the guest's console) and error (log lines) apart, so a log line cannot split a console line.
        Path out = dir.resolve("out.txt"), err = dir.resolve("err.txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("vmm did not end within 120 s; output:\n" + Files.readString(out) + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out) + Files.readString(err));
    }

    /**
     * A VM name of this run alone: a name is the VM's shell socket ({@code $TMPDIR/vmm-NAME.sock}), which a
     * suite running at the same time on this host must not take over.
     */
    private static String vmName(String base) {
        return base + "-" + ProcessHandle.current().pid();
    }

    private static void requireGuests() {
        requireGuests("kvm");
    }

    /** Skips where {@code accel} cannot run guests here: KVM needs its device, every back end SeaBIOS. */
    private static void requireGuests(String accel) {
        if (accel.equals("kvm")) vmm.launcher.boot.HostKvm.require();
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
    }

    /**
     * Flight Recorder rewrites vmm.core's event classes to call {@code jdk.jfr.internal.event}, which a bundle's
     * class loader finds only by boot delegation: without it the first exit event under a recording killed the VM.
     */
    @ParameterizedTest(name = "--accel {0}")
    @ValueSource(strings = {"kvm", "emu"})
    void underAFlightRecordingTheDefaultVmRunsToItsPowerOffAndItsExitsAreRecorded(String accel) throws Exception {
        requireGuests(accel);
        Path recording = dir.resolve("vmm.jfr");
        Result r = vmmWith(List.of("-XX:StartFlightRecording=dumponexit=true,filename=" + recording), "run",
                "--accel", accel);
        assertThat(r.output()).contains(DemoDisk.MESSAGE).contains("the guest powered off")
                .doesNotContain("NoClassDefFoundError");
        assertThat(r.exit()).as(r.output()).isZero();
        long exits = 0;
        try (RecordingFile f = new RecordingFile(recording)) {
            while (f.hasMoreEvents()) if (f.readEvent().getEventType().getName().equals("vmm.VmExit")) exits++;
        }
        assertThat(exits).as("vmm.VmExit events in the recording").isPositive();
    }

    @ParameterizedTest(name = "--accel {0}")
    @ValueSource(strings = {"kvm", "emu"})
    void theDefaultVmBootsShowsItsConsoleAndPowersOffWithExitCode0(String accel) throws Exception {
        requireGuests(accel);
        Result r = vmm("run", "--accel", accel);
        assertThat(r.output()).contains("SeaBIOS (version").contains(DemoDisk.MESSAGE).contains("the guest powered off")
                .contains("vmm: back end: " + accel);
        assertThat(r.exit()).as(r.output()).isZero();
    }

    @Test
    void withoutKvmThePlainRunSaysInOneLineItRunsOnTheSoftwareCpuAndBoots() throws Exception {
        requireGuests("emu");
        // With the logging ./vmm runs with (warnings and errors): what a user sees.
        Result r = vmmWith(List.of("-Dvmm.kvm.device=/nonexistent",
                "-Djava.util.logging.config.file=" + Path.of("../cnf/vmm-logging.properties").toAbsolutePath()), "run");
        assertThat(r.exit()).as(r.output()).isZero();
        List<String> why = r.output().lines().filter(l -> l.contains("/nonexistent")).toList();
        assertThat(why).as(r.output()).hasSize(1);
        assertThat(why.getFirst()).startsWith("vmm: ").contains("missing").contains("software CPU");
        assertThat(r.output()).contains("vmm: back end: emu").contains(DemoDisk.MESSAGE).contains("the guest powered off");
    }

    @ParameterizedTest(name = "--accel {0}")
    @ValueSource(strings = {"kvm", "emu"})
    void aBhyveCommandLineWithADiskAndASerialLogBootsSeaBiosFromTheDisk(String accel) throws Exception {
        requireGuests(accel);
        Path disk = dir.resolve("disk.img"), log = dir.resolve("com1.log");
        DemoDisk.write(disk);
        Result r = vmm("run", "--accel", accel, "-c", "1", "-m", "128M", "-s", "0,hostbridge", "-s", "31,lpc",
                "-s", "5,virtio-blk," + disk + ",ser=LOGDISK", "-l", "com1,log=" + log, "-l", "bootrom," + SEABIOS,
                vmName("testvm"));
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains(vmName("testvm")).contains("00:05.0").contains("virtio-blk")
                .contains("device.virtio-block");
        assertThat(Files.readString(log)).contains("SeaBIOS (version").contains(DemoDisk.MESSAGE);
    }

    @ParameterizedTest(name = "--accel {0}")
    @ValueSource(strings = {"kvm", "emu"})
    void aGuestResetRestartsTheVmAndItsSecondBootPowersOffWithExitCode0(String accel) throws Exception {
        requireGuests(accel);
        Path disk = dir.resolve("reboot.img"), log = dir.resolve("com1.log");
        RebootDisk.write(disk);
        Result r = vmm("run", "--accel", accel, "-m", "64M", "-s", "4,virtio-blk," + disk, "-l", "com1,log=" + log,
                "-l", "bootrom," + SEABIOS, vmName("rebootvm"));
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("the guest powered off");
        assertThat(Files.readString(log).split("SeaBIOS \\(version", -1)).as("a SeaBIOS banner per boot:%n%s", Files.readString(log))
                .hasSize(3);
    }

    @Test
    void withNoRebootAGuestResetEndsTheVmWithExitCode3() throws Exception {
        requireGuests();
        Path disk = dir.resolve("reboot.img"), log = dir.resolve("com1.log");
        RebootDisk.write(disk);
        Result r = vmm("run", "-m", "64M", "-s", "4,virtio-blk," + disk, "-l", "com1,log=" + log, "-l", "bootrom," + SEABIOS,
                "--no-reboot", vmName("noreboot"));
        assertThat(r.exit()).as(r.output()).isEqualTo(3);
        assertThat(r.output()).contains("asked for a reset").contains("0xcf9").contains("--no-reboot");
        assertThat(Files.readString(log).split("SeaBIOS \\(version", -1)).hasSize(2);
    }

    @Test
    void theShellSwapsTheDiskImplementationUnderARunningGuestDoingDiskIo() throws Exception {
        requireGuests();
        Path disk = dir.resolve("io.img"), log = dir.resolve("com1.log");
        IoLoopDisk.write(disk);
        String name = "shell-it-" + ProcessHandle.current().pid();
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString(),
                "run", "-m", "64M", "-s", "4,virtio-blk," + disk + ",swap-wait-ms=" + SWAP_WAIT_MS, "-l", "com1,log=" + log,
                "-l", "bootrom," + SEABIOS, name));
        Process vm = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("vm.txt").toFile()).start();
        try {
            awaitDots(log, 3);
            String list = shell(name, "device:list");
            java.util.regex.Matcher id = java.util.regex.Pattern.compile("device\\.virtio-block \\S+ \\[(\\d+)\\]").matcher(list);
            assertThat(id.find()).as(list).isTrue();
            // The guest has read its disk: the core counted the requests and the bytes read.
            java.util.regex.Matcher stats = java.util.regex.Pattern.compile("00:04\\.0\\s+virtio-blk\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)")
                    .matcher(shell(name, "device:stats"));
            assertThat(stats.find()).isTrue();
            assertThat(Long.parseLong(stats.group(1))).isPositive();
            assertThat(Long.parseLong(stats.group(2))).as("bytes: at least one sector and its status").isGreaterThanOrEqualTo(513);
            assertThat(stats.group(3)).isEqualTo("0");
            Path newBuild = Files.list(Path.of("../device.virtio-block/target"))
                    .filter(p -> p.getFileName().toString().matches("device\\.virtio-block-.*\\.jar")).findFirst().orElseThrow();

            // A new build of the device bundle, while the guest reads its disk through SeaBIOS's virtio-blk driver.
            shell(name, "felix:update " + id.group(1) + " " + newBuild.toUri());
            String after = shell(name, "device:list");
            assertThat(after).as(after).containsPattern("virtio-blk\\s+virtio-blk\\s+device\\.virtio-block .*active\\s+1");
            int dotsAtSwap = dots(log);
            awaitDots(log, dotsAtSwap + 3);

            assertThat(shell(name, "vm:pause")).contains("paused");
            assertThat(shell(name, "vm:status")).contains("state: paused");
            assertThat(shell(name, "vm:resume")).contains("running");
            awaitDots(log, dots(log) + 2);
            assertThat(Files.readString(log)).as("no failed read, no wrong data").doesNotContain("E").doesNotContain("X");

            // A second VM of the same name would take the first one's shell away: it is refused before it starts.
            Result twin = vmm("run", "-m", "64M", "-l", "bootrom," + SEABIOS, name);
            assertThat(twin.exit()).as(twin.output()).isEqualTo(2);
            assertThat(twin.output()).contains("a VM named " + name + " is already running").doesNotContain("SeaBIOS");
            assertThat(shell(name, "vm:status")).as("the first VM keeps its shell").contains("state: running");
        } finally {
            vm.destroy();
            vm.waitFor(20, TimeUnit.SECONDS);
            vm.destroyForcibly();
        }
    }

    @Test
    void passingThroughAHostDeviceOnAHostWithoutVfioIsOneClearErrorBeforeTheGuestStarts() throws Exception {
        requireGuests();
        assumeTrue(!Files.exists(Path.of("/dev/vfio/vfio")), "this host has VFIO");
        String device;
        try (var l = Files.list(Path.of("/sys/bus/pci/devices"))) {
            device = l.map(p -> p.getFileName().toString()).sorted().findFirst().orElse(null);
        }
        assumeTrue(device != null, "no PCI device on this host");
        Result r = vmm("run", "-m", "64M", "-s", "6,passthru," + device, "-l", "bootrom," + SEABIOS, vmName("ptvm"));
        assertThat(r.exit()).as(r.output()).isEqualTo(2);
        assertThat(r.output()).contains("this host has no VFIO").contains("echo vfio-pci > /sys/bus/pci/devices/" + device + "/driver_override")
                .contains("did not start").doesNotContain("SeaBIOS (version");
    }

    @Test
    void seaBiosBootsFromADiskThatAnotherVmmServesOverVfioUserAndThisOnePassesThrough() throws Exception {
        requireGuests();
        Path disk = dir.resolve("disk.img"), log = dir.resolve("com1.log"), socket = dir.resolve("blk.sock");
        DemoDisk.write(disk);
        List<String> server = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString(),
                "vfio-user", "--socket", socket.toString(), "virtio-blk," + disk));
        Process served = new ProcessBuilder(server).redirectErrorStream(true).redirectOutput(dir.resolve("server.txt").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(socket) && served.isAlive() && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(socket).as(Files.readString(dir.resolve("server.txt"))).exists();

            Result r = vmm("run", "-m", "128M", "-s", "4,passthru,vfio-user=" + socket, "-l", "com1,log=" + log,
                    "-l", "bootrom," + SEABIOS, vmName("ptvm"));

            assertThat(r.exit()).as(r.output()).isZero();
            assertThat(r.output()).contains("00:04.0").contains("passthru").contains("vfio-user=" + socket);
            assertThat(Files.readString(log)).contains("SeaBIOS (version").contains(DemoDisk.MESSAGE);
        } finally {
            served.destroy();
            served.waitFor(20, TimeUnit.SECONDS);
            served.destroyForcibly();
        }
    }

    private String shell(String name, String command) throws Exception {
        Result r = vmm(("shell " + name + " " + command).split(" "));
        assertThat(r.exit()).as(r.output()).isZero();
        return r.output();
    }

    private static int dots(Path log) throws java.io.IOException {
        if (!Files.exists(log)) return 0;
        String s = Files.readString(log);
        String booting = "Booting from Hard Disk...";
        int i = s.indexOf(booting), n = 0;
        if (i < 0) return 0;
        for (int k = i + booting.length(); k < s.length(); k++) if (s.charAt(k) == '.') n++;
        return n;
    }

    private static void awaitDots(Path log, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (dots(log) < n) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("the guest printed " + dots(log) + " of " + n + " dots; COM1:\n" + (Files.exists(log) ? Files.readString(log) : ""));
            Thread.sleep(50);
        }
    }

    /**
     * {@code vmm vfio-user} serves a virtio-blk as a PCI function: a client
     * speaking the protocol with plain NIO (no descriptors needed for this)
     * negotiates the version and reads the vendor and device IDs from the
     * config region.
     */
    @Test
    void vfioUserServesADiskAsAPciFunctionThatAClientCanIdentify() throws Exception {
        Path disk = dir.resolve("disk.img"), socket = dir.resolve("blk.sock"), out = dir.resolve("out.txt");
        Files.write(disk, new byte[1 << 16]);
        Process p = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString(), "vfio-user", "--socket", socket.toString(), "virtio-blk," + disk)
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            for (int i = 0; i < 1200 && !Files.exists(socket) && p.isAlive(); i++) Thread.sleep(50);
            assertThat(socket).as(Files.readString(out)).exists();
            try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket))) {
                byte[] json = "{\"capabilities\":{\"max_msg_fds\":1}}\0".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                java.nio.ByteBuffer version = vfioUserMessage(1, 1, 4 + json.length).putShort((short) 0).putShort((short) 1).put(json).flip();
                ch.write(version);
                java.nio.ByteBuffer reply = vfioUserReply(ch);
                assertThat(reply.getShort(2)).as("VERSION reply").isEqualTo((short) 1);
                assertThat(reply.getInt(8) & 0x2f).as("a reply, no error").isEqualTo(1);
                // REGION_READ of 4 bytes at offset 0 of region 7 (config space).
                ch.write(vfioUserMessage(2, 9, 16).putLong(0).putInt(7).putInt(4).flip());
                java.nio.ByteBuffer read = vfioUserReply(ch);
                assertThat(read.getInt(8) & 0x2f).isEqualTo(1);
                assertThat(Short.toUnsignedInt(read.getShort(32))).as("vendor").isEqualTo(0x1af4);
                assertThat(Short.toUnsignedInt(read.getShort(34))).as("device").isEqualTo(0x1042);
            }
            assertThat(Files.readString(out)).contains("serving virtio-blk over vfio-user on " + socket);
        } finally {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
        }
    }

    private static java.nio.ByteBuffer vfioUserMessage(int id, int command, int payload) {
        return java.nio.ByteBuffer.allocate(16 + payload).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putShort((short) id).putShort((short) command).putInt(16 + payload).putInt(0).putInt(0);
    }

    private static java.nio.ByteBuffer vfioUserReply(java.nio.channels.SocketChannel ch) throws Exception {
        java.nio.ByteBuffer head = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (head.hasRemaining()) if (ch.read(head) < 0) throw new AssertionError("the server closed the connection");
        int size = head.getInt(4);
        assertThat(size).isBetween(16, 4096);
        java.nio.ByteBuffer all = java.nio.ByteBuffer.allocate(size).order(java.nio.ByteOrder.LITTLE_ENDIAN).put(head.flip());
        while (all.hasRemaining()) if (ch.read(all) < 0) throw new AssertionError("the server closed the connection");
        return all.flip();
    }

    @Test
    void runWithKernelBootsDebiansVmlinuxWithoutFirmwareToItsBannerOnCom1() throws Exception {
        Path vmlinux = vmm.launcher.boot.DebianKernel.vmlinux(dir, vmm.launcher.boot.DebianKernel.require());
        Path log = dir.resolve("com1.log");
        String cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 vmm-it-marker=7";
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString(),
                "run", "-m", "256M", "--kernel", vmlinux.toString(), "--cmdline", cmdline, "-l", "com1,log=" + log,
                vmName("linuxvm")));
        Process vm = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("vm.txt").toFile()).start();
        String console = "";
        try {
            // A hang guard: the banner comes after seconds; this host's emulating KVM stops the kernel later.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (System.nanoTime() < deadline && !console.contains("Command line: " + cmdline) && vm.isAlive()) {
                Thread.sleep(200);
                console = Files.exists(log) ? Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1) : "";
            }
            console = Files.exists(log) ? Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1) : "";
        } finally {
            vm.destroy();
            vm.waitFor(20, TimeUnit.SECONDS);
            vm.destroyForcibly();
        }
        assertThat(console).as("COM1; vmm said:%n%s", Files.readString(dir.resolve("vm.txt")))
                .contains("Linux version").contains("Command line: " + cmdline);
        assertThat(Files.readString(dir.resolve("vm.txt"))).contains("kernel " + vmlinux);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "an unknown emulation | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 4,virtio-gpu | unknown emulation 'virtio-gpu'",
            "a slot used twice    | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 4,virtio-rng -s 4,virtio-rng | slot 4 is used twice",
            "a malformed size     | run -m 12Q -l bootrom,/usr/share/seabios/bios-256k.bin | -m 12Q",
            "a missing disk file  | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 4,virtio-blk,/no/such/disk.img | /no/such/disk.img: no such file",
            "a missing boot ROM   | run -l bootrom,/no/such/rom.bin | boot ROM /no/such/rom.bin: no such file",
            "an unknown backend   | run -l bootrom,/usr/share/seabios/bios-256k.bin -l com1,telepathy | telepathy",
            "a TAP that is absent | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 5,virtio-net,vmmnotap0 | vmmnotap0: no such network interface",
            "a missing kernel     | run --kernel /no/such/vmlinux | /no/such/vmlinux: no such kernel file",
            "a ROM as the kernel  | run --kernel /usr/share/seabios/bios-256k.bin | /usr/share/seabios/bios-256k.bin: not a Linux kernel",
            "a missing -k file    | run -k /no/such/vm.json | /no/such/vm.json: no such file",
            "an unknown -o key    | run -l bootrom,/usr/share/seabios/bios-256k.bin -o vm.turbo=1 | unknown key vm.turbo",
            "a device we lack     | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 29,fbuf,w=800 | no fbuf device",
            "a missing bundle     | run --bundle /no/such/device.jar -s 5,my-device | --bundle /no/such/device.jar: no such file",
            "a bad MAC            | vhost-user --socket /tmp/vmm-it-unused.sock virtio-net,lo,mac=zz:zz:zz:zz:zz:zz"
                    + " | mac=zz:zz:zz:zz:zz:zz is not a MAC address",
            "a multicast MAC      | vhost-user --socket /tmp/vmm-it-unused.sock virtio-net,lo,mac=01:00:5e:00:00:01"
                    + " | a multicast or zero address",
    })
    void badInputIsOneClearLineAndExitCode2(String what, String line, String expected) throws Exception {
        assumeTrue(Files.isReadable(SEABIOS) || !line.contains(SEABIOS.toString()), "no SeaBIOS");
        Result r = vmm(line.trim().split(" +"));
        assertThat(r.exit()).as(r.output()).isEqualTo(2);
        assertThat(r.output()).contains(expected.trim());
        assertThat(r.output()).doesNotContain("SeaBIOS (version");
        assertThat(r.output().lines().filter(l -> l.startsWith("vmm:"))).as("one line").hasSize(1);
    }

    @Test
    void configDumpPrintsTheVariablesAndExits0AndTheDumpRunsAsAConfigFile() throws Exception {
        requireGuests("emu");
        // ./vmm's logging (warnings only), so that standard error adds nothing to the dump
        List<String> logging = List.of("-Djava.util.logging.config.file="
                + Path.of("../cnf/vmm-logging.properties").toAbsolutePath().normalize());
        Result dump = vmmWith(logging, "run", "-c", "1", "-m", "64", "-H", "-P", "-s", "0,hostbridge", "-s", "31,lpc",
                "-l", "com1,log=" + dir.resolve("com1.log"), "-l", "bootrom," + SEABIOS, "-o", "config.dump=1", "dumpvm");
        assertThat(dump.exit()).as(dump.output()).isZero();
        assertThat(dump.output()).startsWith("config.dump=1\ncpus=1\n").contains("memory.size=64\n", "name=dumpvm\n",
                "lpc.bootrom=" + SEABIOS + "\n").doesNotContain("SeaBIOS (version");
        Path file = Files.writeString(dir.resolve("dumpvm.conf"), dump.output().replace("config.dump=1\n", "")
                + "pci.0.4.0.device=virtio-blk\npci.0.4.0.path=" + dir.resolve("disk.img") + "\naccel=emu\n");
        DemoDisk.write(dir.resolve("disk.img"));
        Result run = vmm("run", "-k", file.toString(), vmName("dumpvm"));
        assertThat(run.exit()).as(run.output()).isZero();
        assertThat(Files.readString(dir.resolve("com1.log"))).contains(DemoDisk.MESSAGE);
    }

    /** With both network bundles present, the emulation name alone decides which serves, every start. */
    @ParameterizedTest(name = "{0} serves {1}")
    @CsvSource({"virtio-net, virtio-net", "virtio-net-viona, viona"})
    void vhostUserServesTheImplementationTheEmulationNames(String emulation, String implementation) throws Exception {
        String tap = "vmmitv" + (ProcessHandle.current().pid() % 10000);
        Process add = new ProcessBuilder("ip", "tuntap", "add", "dev", tap, "mode", "tap").redirectErrorStream(true).start();
        String why = new String(add.getInputStream().readAllBytes()).strip();
        assumeTrue(add.waitFor() == 0, "cannot make a TAP here (needs CAP_NET_ADMIN): " + why);
        Path socket = dir.resolve("net.sock"), out = dir.resolve("server.txt");
        Process served = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString(),
                "vhost-user", "--socket", socket.toString(), emulation + "," + tap).redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        try {
            // The server's log line and the launcher's own "vmm: serving" line go out on two streams in either
            // order: wait for the line asserted (the deadline is a hang guard only).
            String expected = ": serving " + implementation + " on " + socket;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(out).contains(expected) && served.isAlive() && System.nanoTime() < deadline)
                Thread.sleep(50);
            assertThat(Files.readString(out)).contains(expected);
        } finally {
            served.destroy();
            served.waitFor(30, TimeUnit.SECONDS);
            served.destroyForcibly();
            new ProcessBuilder("ip", "link", "del", tap).start().waitFor();
        }
    }

    @Test
    void sigtermRemovesTheVhostUserSocketAndTheShellsControlSocket() throws Exception {
        String name = "rng-" + ProcessHandle.current().pid();
        Path socket = dir.resolve(name + ".sock"), out = dir.resolve("server.txt");
        Process served = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString(),
                "vhost-user", "--socket", socket.toString(), "virtio-rng").redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(out).contains("shell: ") && served.isAlive() && System.nanoTime() < deadline)
                Thread.sleep(50);
            String said = Files.readString(out);
            assertThat(said).as("the shell's name has one .sock, added by its socket")
                    .contains("./vmm shell vhost-user-" + name + " COMMAND");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\(socket (.+)\\)").matcher(said);
            assertThat(m.find()).as(said).isTrue();
            Path control = Path.of(m.group(1));
            // The shell's socket comes up when its component has the configuration, just after that line.
            while (!Files.exists(control) && served.isAlive() && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(control.getFileName().toString()).isEqualTo("vhost-user-" + name + ".sock");
            assertThat(socket).exists();
            assertThat(control).exists();
            served.destroy(); // SIGTERM
            assertThat(served.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(socket).doesNotExist();
            assertThat(control).doesNotExist();
        } finally {
            served.destroyForcibly();
        }
    }
}
