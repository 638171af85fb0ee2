package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.uart.internal.UartComponent;
import vmm.core.boot.KernelEntry;
import vmm.core.platform.PcMachine;
import vmm.testing.linux.Initramfs;

/**
 * Debian's cloud kernel, unmodified, started by our loader without firmware
 * on our PcMachine: the {@code vmlinux} inside its bzImage, entered through
 * PVH, prints its banner, our command line and the memory map we gave it
 * on our 16550A (COM1).
 *
 * <p>On the development machines KVM emulates guest code (TESTBED.md) and
 * the kernel dies early (an instruction the emulator lacks), so the first
 * test stops once those lines are there. The shell test goes on, with the
 * installed bzImage as it is, to an interactive busybox shell on two vCPUs
 * and an ACPI power-off: on the software CPU everywhere, on KVM where the
 * host has hardware virtualization.
 */
class LinuxDirectBootTest {
    static final String MARKER = "vmm-test-marker=42";
    static final String CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0,115200 " + MARKER;
    /**
     * A hang guard, not a timing assertion: the lines come after about 17 s here on an idle machine, and after
     * more than 60 s when other builds share its two cores; the test ends as soon as they are there.
     */
    static final Duration BOUND = Duration.ofSeconds(180);
    /**
     * A hang guard for the boots to a shell: on the software CPU the prompt comes after about 20 s on an idle
     * development machine, and after about a minute while other builds share its two cores.
     */
    static final Duration SHELL_BOUND = Duration.ofSeconds(600);

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

    /**
     * The kernel's command line for the shell tests. {@code cryptomgr.notests}: the crypto self-tests (about 30 s
     * of the software CPU's time, 1.3 billion instructions) test the kernel, not the VMM.
     */
    static final String SHELL_CMDLINE = "console=ttyS0 rdinit=/init cryptomgr.notests";
    static final String PROMPT = "VMM-PROMPT> ";

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void debiansBzImageReachesAnInteractiveShellOnTwoVcpusAndPowersOffThroughAcpi(String accel) throws Exception {
        Path bzImage = DebianKernel.require();
        assumeTrue(accel.equals(BackEnd.EMU) || hardwareVirtualization(),
                "this host's KVM emulates guest code (no vmx/svm flag in /proc/cpuinfo, see TESTBED.md): a kernel dies"
                        + " before user space on it; the software CPU (emu) runs this test here");
        // An interactive busybox shell on the console with a prompt of its own; the test types into it.
        Path initrd = new Initramfs("""
                /bin/busybox --install -s /bin
                export PATH=/bin PS1='%s'
                mount -t proc proc /proc
                exec sh
                """.formatted(PROMPT)).write(dir.resolve("initrd.cpio"));
        Path socket = dir.resolve("com1.sock");
        StringBuffer console = new StringBuffer();
        Optional<PcMachine.Exit> exit;
        long start = System.nanoTime();
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(512L << 20, 2, null), line -> {})) {
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "unix=" + socket));
            try (SocketChannel com1 = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                Thread reader = Thread.ofPlatform().daemon().name("com1-reader").start(() -> readInto(com1, console));
                vm.loadKernel(bzImage, initrd, SHELL_CMDLINE);
                vm.start();
                assertThat(awaitText(vm, console, PROMPT)).as("the VM ended before the prompt:%n%s", console).isEmpty();
                long promptAt = System.nanoTime();
                // The shell computes the answer: the line echoed back holds only the expression.
                com1.write(ByteBuffer.wrap("echo VMM-ANSWER=$((6*7)) nproc=$(nproc)\n".getBytes()));
                assertThat(awaitText(vm, console, "VMM-ANSWER=42 nproc=")).as("%s", console).isEmpty();
                com1.write(ByteBuffer.wrap("poweroff -f\n".getBytes()));
                exit = awaitExit(vm);
                System.out.printf("%s: Linux to the shell's prompt in %.1f s, to power-off in %.1f s%n", accel,
                        (promptAt - start) / 1e9, (System.nanoTime() - start) / 1e9);
                reader.interrupt();
            } finally {
                uart.deactivate();
            }
        }
        assertThat(console.toString()).contains("Linux version").contains("Command line: " + SHELL_CMDLINE)
                .contains("smp: Brought up 1 node, 2 CPUs").contains("VMM-ANSWER=42 nproc=2")
                .contains("ACPI: PM: Preparing to enter system sleep state S5");
        assertThat(exit).as("COM1:%n%s", console).isPresent();
        assertThat(exit.get().outcome()).as("%s", exit.get().detail()).isEqualTo(PcMachine.Outcome.POWER_OFF);
    }

    private static void readInto(SocketChannel channel, StringBuffer console) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        try {
            while (channel.read(b.clear()) >= 0) {
                console.append(new String(b.array(), 0, b.position(), java.nio.charset.StandardCharsets.ISO_8859_1));
            }
        } catch (IOException e) {
            // closed at the test's end
        }
    }

    /** Waits until the console holds {@code text}, the VM ends, or the bound passes; the VM's exit, if it ended. */
    private static Optional<PcMachine.Exit> awaitText(PcMachine vm, StringBuffer console, String text)
            throws Exception {
        long deadline = System.nanoTime() + SHELL_BOUND.toNanos();
        while (console.indexOf(text) < 0 && System.nanoTime() < deadline) {
            Optional<PcMachine.Exit> exit = vm.awaitExit(Duration.ofMillis(250));
            if (exit.isPresent()) return exit;
        }
        return Optional.empty();
    }

    private static Optional<PcMachine.Exit> awaitExit(PcMachine vm) throws Exception {
        return vm.awaitExit(SHELL_BOUND);
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
