package vmm.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.kvm.vendor.HostFacts;
import vmm.svm.SvmVendor;
import vmm.vmx.VmxVendor;

/**
 * The cost of one port-I/O exit under this VMM (vmm.kvm with the host's vendor
 * back end) and under QEMU with KVM, in one run, on the same ROM image
 * ({@link ExitLoopRom}). Each side runs the image with {@code iterations} loop
 * exits and with none; the difference over {@code iterations} is the cost of an
 * exit, so VM creation, QEMU's start-up and the final exit cancel out. Runs
 * alternate between the two VMMs; the medians are compared.
 *
 * <p>Usage: {@code ExitCostVsQemu [iterations (200000)] [runs (5)] [qemu binary]}
 */
public final class ExitCostVsQemu {
    private ExitCostVsQemu() {}

    public static void main(String[] args) throws Exception {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        String qemu = args.length > 2 ? args[2] : "qemu-system-x86_64";

        Path dir = Files.createTempDirectory("exit-bench");
        Path loopRom = dir.resolve("loop.rom"), emptyRom = dir.resolve("empty.rom");
        byte[] loop = ExitLoopRom.image(iterations), empty = ExitLoopRom.image(0);
        Files.write(loopRom, loop);
        Files.write(emptyRom, empty);

        HostFacts host = HostFacts.ofThisHost();
        KvmVendor vendor = new SvmVendor(host).supportsHost(host.cpuVendorId()) ? new SvmVendor(host) : new VmxVendor(host);
        System.out.printf("host CPU %s, back end %s, %d exits per run, %d runs each%n", host.cpuVendorId(), vendor.name(), iterations, runs);

        long[] oursLoop = new long[runs], oursEmpty = new long[runs], qemuLoop = new long[runs], qemuEmpty = new long[runs];
        long[] oursLoopUser = new long[runs], oursEmptyUser = new long[runs];
        try (KvmHypervisor kvm = new KvmHypervisor(vendor)) {
            ours(kvm, empty); // warm-up: class loading, the first downcalls
            ours(kvm, loop);
            for (int r = 0; r < runs; r++) {
                long[] l = ours(kvm, loop), e = ours(kvm, empty);
                oursLoop[r] = l[0];
                oursLoopUser[r] = l[1];
                oursEmpty[r] = e[0];
                oursEmptyUser[r] = e[1];
                qemuLoop[r] = qemu(qemu, loopRom);
                qemuEmpty[r] = qemu(qemu, emptyRom);
                System.out.printf("run %d: ours %.1f ms (empty %.2f ms), qemu %.1f ms (empty %.1f ms)%n", r + 1,
                        oursLoop[r] / 1e6, oursEmpty[r] / 1e6, qemuLoop[r] / 1e6, qemuEmpty[r] / 1e6);
            }
        } finally {
            Files.deleteIfExists(loopRom);
            Files.deleteIfExists(emptyRom);
            Files.deleteIfExists(dir);
        }
        double ours = (median(oursLoop) - median(oursEmpty)) / (double) iterations;
        double theirs = (median(qemuLoop) - median(qemuEmpty)) / (double) iterations;
        System.out.printf("ours: %.0f ns per exit (loop run %.1f ms, empty run %.2f ms, medians)%n", ours,
                median(oursLoop) / 1e6, median(oursEmpty) / 1e6);
        System.out.printf("      of which user space (the Java run loop, exit decoding, bus dispatch): %.0f ns per exit%n",
                (median(oursLoopUser) - median(oursEmptyUser)) / (double) iterations);
        System.out.printf("qemu: %.0f ns per exit (loop run %.1f ms, empty run incl. start-up %.1f ms, medians)%n", theirs,
                median(qemuLoop) / 1e6, median(qemuEmpty) / 1e6);
        System.out.printf("ratio ours/qemu: %.3f%n", ours / theirs);
    }

    /**
     * Nanoseconds from the first KVM_RUN to the halt after the exit port, on a fresh VM,
     * and the user-mode CPU time the vCPU thread spent meanwhile (the rest is the kernel's).
     */
    static long[] ours(KvmHypervisor kvm, byte[] rom) {
        IoPortBus ports = new IoPortBus();
        MmioBus mmio = new MmioBus();
        try (GuestMemory memory = GuestMemory.ofSize(0x100000);
             VirtualMachine vm = kvm.createVm(memory, new VmConfig(1, false));
             Vcpu vcpu = vm.createVcpu(0)) {
            memory.write(ExitLoopRom.BASE, rom, 0, rom.length);
            SpecialRegisters s = vcpu.specialRegisters();
            s.segment(SpecialRegisters.Seg.CS, Segment.realMode(ExitLoopRom.SEGMENT, true)).dataSegments(Segment.realMode(0, false));
            vcpu.setSpecialRegisters(s);
            vcpu.setRegisters(new Registers().rip(ExitLoopRom.RESET_OFFSET).rsp(0x8000));
            java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long userStart = threads.getCurrentThreadUserTime();
            long start = System.nanoTime();
            VcpuExit exit;
            do {
                exit = vcpu.run(ports, mmio);
            } while (exit instanceof VcpuExit.Interrupted);
            long took = System.nanoTime() - start, user = threads.getCurrentThreadUserTime() - userStart;
            if (!(exit instanceof VcpuExit.Halted)) throw new IllegalStateException("the guest ended with " + exit.describe());
            return new long[] {took, user};
        }
    }

    /** Nanoseconds QEMU with KVM takes from launch to exit on {@code rom}. */
    static long qemu(String binary, Path rom) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(binary, "-enable-kvm", "-machine", "pc", "-m", "16", "-nodefaults",
                "-display", "none", "-serial", "none", "-monitor", "none", "-no-reboot", "-bios", rom.toString(),
                "-device", "isa-debug-exit,iobase=0x" + Integer.toHexString(ExitLoopRom.EXIT_PORT) + ",iosize=1"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        long start = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("QEMU did not finish within 120 s: " + String.join(" ", cmd));
        }
        long took = System.nanoTime() - start;
        if (p.exitValue() != ExitLoopRom.QEMU_EXIT_STATUS)
            throw new IllegalStateException("QEMU exited with " + p.exitValue() + ", not " + ExitLoopRom.QEMU_EXIT_STATUS
                    + " (isa-debug-exit): " + String.join(" ", cmd));
        return took;
    }

    private static long median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
