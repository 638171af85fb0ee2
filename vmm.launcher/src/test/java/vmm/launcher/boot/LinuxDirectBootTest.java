package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.uart.internal.UartComponent;
import vmm.core.boot.KernelEntry;
import vmm.core.platform.PcMachine;

/**
 * Debian's cloud kernel, unmodified, started by our loader without firmware
 * on our PcMachine: the {@code vmlinux} inside its bzImage, entered through
 * PVH, prints its banner, our command line and the memory map we gave it
 * on our 16550A (COM1).
 *
 * <p>On the development machines KVM emulates guest code (TESTBED.md) and
 * the kernel dies early (an instruction the emulator lacks), so the first
 * test stops once those lines are there. The second goes on to an initramfs
 * shell and needs a host with hardware virtualization.
 */
class LinuxDirectBootTest {
    static final String MARKER = "vmm-test-marker=42";
    static final String CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0,115200 " + MARKER;
    /**
     * A hang guard, not a timing assertion: the lines come after about 17 s here on an idle machine, and after
     * more than 60 s when other builds share its two cores; the test ends as soon as they are there.
     */
    static final Duration BOUND = Duration.ofSeconds(180);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void debiansKernelBootsThroughPvhAndPrintsItsBannerOurCommandLineAndOurMemoryMap(String accel) throws Exception {
        Path vmlinux = DebianKernel.vmlinux(dir, DebianKernel.require());
        Path com1 = dir.resolve("com1.log");
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());

        String console;
        Optional<PcMachine.Exit> exit;
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(256L << 20, 1, null), firmwareLog::add)) {
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "log=" + com1));
            try {
                KernelEntry entry = vm.loadKernel(vmlinux, null, CMDLINE);
                assertThat(entry.mode()).isEqualTo(KernelEntry.Mode.PVH_32);
                vm.start();
                exit = awaitLines(vm, com1, "Linux version", MARKER, "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable",
                        "ACPI: RSDP 0x00000000000E0000", "ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2",
                        // the last line asserted below: waiting for an earlier one raced with the kernel printing it
                        "ACPI: INT_SRC_OVR (bus 0 bus_irq 9 global_irq 9 high level)");
                console = read(com1);
                vm.stop();
            } finally {
                uart.deactivate();
            }
        }
        String how = exit.map(e -> e.outcome() + ": " + e.detail()).orElse("still running");
        assertThat(console).as("COM1 (the VM: %s)", how)
                .contains("Linux version")
                .contains("Command line: " + CMDLINE)
                .contains("BIOS-provided physical RAM map:")
                .contains("BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable")
                // Linux itself reserves all of 640 KiB..1 MiB, so our BIOS-area entry shows up merged with the VGA hole.
                .contains("-0x00000000000fffff] reserved")
                .contains("BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable")
                // our ACPI tables, through hvm_start_info.rsdp_paddr
                .contains("ACPI: RSDP 0x00000000000E0000")
                .contains("ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2")
                .contains("ACPI: INT_SRC_OVR (bus 0 bus_irq 9 global_irq 9 high level)");
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM})
    void debiansBzImageDecompressesItselfAfterEnteringThrough64BitBootProtocol(String accel) throws Exception {
        Path bzImage = DebianKernel.require();
        byte[] vmlinuxHead = Arrays.copyOf(Files.readAllBytes(DebianKernel.vmlinux(dir, bzImage)), 64 << 10);
        byte[] seen = new byte[vmlinuxHead.length];
        Optional<PcMachine.Exit> exit = Optional.empty();
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(256L << 20, 1, null), line -> {})) {
            // nokaslr: the decompressor writes vmlinux at the load address (pref_address) instead of a random one.
            KernelEntry entry = vm.loadKernel(bzImage, null, "console=ttyS0 nokaslr");
            assertThat(entry.mode()).isEqualTo(KernelEntry.Mode.LONG_64);
            long output = entry.rip() - 0x200;
            vm.start();
            // Debian's decompressor prints nothing (no CONFIG_X86_VERBOSE_BOOTUP) and needs minutes under this
            // host's emulation; what shows it runs on our entry state, zero page and page tables is the ELF
            // it writes at its output address, which must be the vmlinux inside the bzImage.
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (System.nanoTime() < deadline && !Arrays.equals(seen, vmlinuxHead)) {
                exit = vm.awaitExit(Duration.ofMillis(500));
                if (exit.isPresent()) break;
                vm.machine().memory().read(output, seen, 0, seen.length);
            }
            vm.stop();
        }
        assertThat(exit).as("the VM failed: %s", exit.map(PcMachine.Exit::detail).orElse("")).isEmpty();
        assertThat(seen).as("the first 64 KiB the decompressor wrote at the load address").isEqualTo(vmlinuxHead);
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM})
    void debiansKernelReachesAnInitramfsShellOnHardwareVirtualization(String accel) throws Exception {
        Path bzImage = DebianKernel.require();
        assumeTrue(hardwareVirtualization(),
                "this host's KVM emulates guest code (no vmx/svm flag in /proc/cpuinfo, see TESTBED.md): a kernel dies"
                        + " before user space here; the step to an initramfs shell needs hardware virtualization");
        assumeTrue(Files.isReadable(Path.of("/bin/busybox")), "no /bin/busybox: apt-get install busybox-static");
        Path initrd = dir.resolve("initrd.cpio");
        try (var out = Files.newOutputStream(initrd)) {
            NewcArchive cpio = new NewcArchive(out);
            cpio.directory("dev");
            cpio.charDevice("dev/console", 5, 1); // so init's stdio is the console; no devtmpfs in an initramfs
            cpio.directory("bin");
            cpio.file("bin/busybox", 0755, Files.readAllBytes(Path.of("/bin/busybox")));
            cpio.file("init", 0755, "#!/bin/busybox sh\necho VMM-SHELL-READY\nexec /bin/busybox sh\n".getBytes());
            cpio.finish();
        }
        Path com1 = dir.resolve("com1.log");
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(512L << 20, 1, null), line -> {})) {
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "log=" + com1));
            try {
                vm.loadKernel(bzImage, initrd, "console=ttyS0 rdinit=/init");
                vm.start();
                Optional<PcMachine.Exit> exit = awaitLines(vm, com1, "VMM-SHELL-READY");
                assertThat(read(com1)).as("COM1 (%s)", exit).contains("Linux version").contains("VMM-SHELL-READY");
                vm.stop();
            } finally {
                uart.deactivate();
            }
        }
    }

    @Test
    void theInitramfsWriterMakesAnArchiveCpioReads() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/cpio")), "no cpio: apt-get install cpio");
        Path archive = dir.resolve("test.cpio");
        try (var out = Files.newOutputStream(archive)) {
            NewcArchive cpio = new NewcArchive(out);
            cpio.directory("dev");
            cpio.charDevice("dev/console", 5, 1);
            cpio.file("init", 0755, "#!/bin/sh\n".getBytes());
            cpio.finish();
        }
        Process p = new ProcessBuilder("cpio", "-itv", "-F", archive.toString()).redirectErrorStream(true).start();
        String listing = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("cpio finished").isTrue();
        assertThat(p.exitValue()).as(listing).isZero();
        assertThat(listing).containsPattern("crw-------.* 5,\\s*1 .*dev/console").containsPattern("-rwxr-xr-x.* 10 .*init");
    }

    /** The "newc" cpio format the kernel unpacks an initramfs from (Documentation/driver-api/early-userspace/buffer-format.rst). */
    static final class NewcArchive {
        private final java.io.OutputStream out;
        private long written;
        private int ino = 1;

        NewcArchive(java.io.OutputStream out) {
            this.out = out;
        }

        void directory(String name) throws IOException {
            entry(name, 0040755, 0, 0, new byte[0]);
        }

        void charDevice(String name, int major, int minor) throws IOException {
            entry(name, 0020600, major, minor, new byte[0]);
        }

        void file(String name, int permissions, byte[] data) throws IOException {
            entry(name, 0100000 | permissions, 0, 0, data);
        }

        void finish() throws IOException {
            entry("TRAILER!!!", 0, 0, 0, new byte[0]);
        }

        private void entry(String name, int mode, int rdevMajor, int rdevMinor, byte[] data) throws IOException {
            byte[] n = (name + "\0").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            String header = "070701" + String.format("%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
                    name.equals("TRAILER!!!") ? 0 : ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, n.length, 0);
            write(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            write(n);
            pad();
            write(data);
            pad();
        }

        private void write(byte[] b) throws IOException {
            out.write(b);
            written += b.length;
        }

        private void pad() throws IOException {
            while (written % 4 != 0) write(new byte[1]);
        }
    }

    /** Waits until COM1 has every line, the VM ends, or the bound passes; the VM's exit, if it ended. */
    private static Optional<PcMachine.Exit> awaitLines(PcMachine vm, Path com1, String... lines) throws Exception {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<PcMachine.Exit> exit = vm.awaitExit(Duration.ofMillis(250));
            String text = read(com1);
            if (exit.isPresent() || Stream.of(lines).allMatch(text::contains)) return exit;
        }
        return Optional.empty();
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1) : "";
    }

    private static boolean hardwareVirtualization() throws IOException {
        String cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
        return cpuinfo.matches("(?s).*\\bflags\\s*:[^\\n]*\\b(vmx|svm)\\b.*");
    }

}
