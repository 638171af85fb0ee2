package vmm.emu.internal.vm;

import java.nio.file.Files;
import java.nio.file.Path;

import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.core.platform.PcPlatform;
import vmm.core.platform.PowerControl;
import vmm.testing.InterruptRecorder;

/**
 * How far Debian's SeaBIOS gets on the software CPU with our PC platform but
 * no interrupt controllers yet (a probe to run by hand, not a test): prints the
 * firmware's debug console, the POST code, and where the vCPU stopped. A HLT is
 * resumed a bounded number of times (nothing would wake it).
 * {@code java -cp ... vmm.emu.internal.vm.SeaBiosProbe [seconds]}
 */
public final class SeaBiosProbe {
    private SeaBiosProbe() {
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 30;
        byte[] rom = Files.readAllBytes(Path.of("/usr/share/seabios/bios-256k.bin"));
        try (GuestMemory memory = PcPlatform.memory(64L << 20, rom)) {
            vmm.core.machine.Machine machine = new vmm.core.machine.Machine(memory, new InterruptRecorder());
            PcPlatform platform = PcPlatform.install(machine, 1, new PowerControl() {
                @Override public void powerOff(String how) { System.out.println("power off: " + how); System.exit(0); }
                @Override public void reset(String how) { System.out.println("reset: " + how); }
            }, line -> System.out.println("fw| " + line));
            VirtualMachine vm = new EmuHypervisor().createVm(memory, new VmConfig(1, false));
            Vcpu v = vm.createVcpu(0);
            EmuVcpu ev = (EmuVcpu) v;
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            int halts = 0;
            Thread.ofPlatform().daemon().start(() -> {
                while (true) {
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    }
                    v.kick();
                }
            });
            long t0 = System.nanoTime();
            while (System.nanoTime() < deadline) {
                VcpuExit e = v.run(machine.ioPorts(), machine.mmio());
                if (e instanceof VcpuExit.Interrupted) continue;
                Registers r = v.registers();
                System.out.printf("exit: %s at cs=%04x rip=%x (post code 0x%x, %,d instructions)%n", e.describe(),
                        v.specialRegisters().segment(vmm.core.hypervisor.SpecialRegisters.Seg.CS).selector(), r.rip(),
                        platform.postCode(), ev.machine().instructions());
                if (e instanceof VcpuExit.Halted && ++halts < 50) continue;
                System.out.println(r);
                System.out.println(v.specialRegisters());
                break;
            }
            System.out.printf("%,d instructions in %.2f s, post code 0x%x%n", ev.machine().instructions(),
                    (System.nanoTime() - t0) / 1e9, platform.postCode());
            System.exit(0);
        }
    }
}
