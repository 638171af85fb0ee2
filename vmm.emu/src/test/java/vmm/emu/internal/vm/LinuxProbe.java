package vmm.emu.internal.vm;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;

import vmm.core.bus.IoHandler;
import vmm.core.boot.KernelEntry;
import vmm.core.boot.LinuxBoot;
import vmm.core.boot.MemoryRange;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.core.platform.PcMachine;
import vmm.core.platform.PcPlatform;
import vmm.core.platform.PowerControl;
import vmm.testing.InterruptRecorder;

/**
 * How far a Linux kernel gets on the software CPU through vmm.core's PVH boot path, without
 * interrupt controllers yet (a probe to run by hand, not a test): the kernel's serial output
 * (COM1 as a transmit-only port: every byte written is printed, the line status always says
 * "empty"), and where the vCPU stopped. The CPU logs the first #UD of each opcode it lacks.
 * {@code java -cp ... vmm.emu.internal.vm.LinuxProbe VMLINUX [seconds] [initrd|-] [cmdline]}; VMLINUX is
 * the ELF inside Debian's bzImage (its LZ4 payload, see the README).
 */
public final class LinuxProbe {
    private LinuxProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path kernel = Path.of(args[0]);
        long seconds = args.length > 1 ? Long.parseLong(args[1]) : 60;
        Path initrd = args.length > 2 && !args[2].equals("-") ? Path.of(args[2]) : null;
        String cmdline = args.length > 3 ? args[3]
                : "console=ttyS0 earlyprintk=serial,ttyS0,115200 noapic nolapic nosmp no_timer_check lpj=1000000";
        long ram = 256L << 20;
        ArrayDeque<String> last = new ArrayDeque<>();
        StringBuilder line = new StringBuilder();
        try (GuestMemory memory = PcPlatform.memory(ram, null)) {
            vmm.core.machine.Machine machine = new vmm.core.machine.Machine(memory, new InterruptRecorder());
            PcPlatform platform = PcPlatform.install(machine, 1, new PowerControl() {
                @Override public void powerOff(String how) { System.out.println("power off: " + how); System.exit(0); }
                @Override public void reset(String how) { System.out.println("reset: " + how); System.exit(0); }
            }, l -> System.out.println("fw| " + l));
            machine.ioPorts().register("com1", 0x3F8, 8, new IoHandler() {
                private int lcr, scratch;

                @Override
                public long read(long offset, int size) {
                    return switch ((int) offset) {
                        case 2 -> 0xC1;             // IIR: no interrupt, FIFOs enabled (a 16550A)
                        case 3 -> lcr;
                        case 5 -> 0x60;             // LSR: transmitter empty
                        case 6 -> 0xB0;             // MSR: DCD, DSR, CTS
                        case 7 -> scratch;
                        default -> 0;
                    };
                }

                @Override
                public void write(long offset, int size, long value) {
                    if (offset == 3) lcr = (int) value & 0xFF;
                    if (offset == 7) scratch = (int) value & 0xFF;
                    if (offset != 0 || (lcr & 0x80) != 0) return;
                    char ch = (char) (value & 0xFF);
                    if (ch == '\n') {
                        System.out.println("| " + line);
                        last.addLast(line.toString());
                        if (last.size() > 20) last.removeFirst();
                        line.setLength(0);
                    } else if (ch != '\r') {
                        line.append(ch);
                    }
                }
            });
            List<MemoryRange> map = PcPlatform.kernelMemoryMap(ram);
            platform.setUpWithoutFirmware();
            long rsdp = vmm.core.internal.acpi.AcpiTables.writeTo(memory, PcMachine.ACPI_TABLES, 1);
            VirtualMachine vm = new EmuHypervisor().createVm(memory, new VmConfig(1, false));
            Vcpu v = vm.createVcpu(0);
            EmuVcpu ev = (EmuVcpu) v;
            KernelEntry entry = LinuxBoot.load(memory, map, kernel, initrd, cmdline, rsdp);
            entry.applyTo(v);
            System.out.println("entry: " + entry.mode() + " at 0x" + Long.toHexString(entry.rip()));
            long start = System.nanoTime(), deadline = start + seconds * 1_000_000_000L;
            ProbeKicker.start(v);
            int halts = 0;
            while (System.nanoTime() < deadline) {
                VcpuExit e = v.run(machine.ioPorts(), machine.mmio());
                if (e instanceof VcpuExit.Interrupted) continue;
                Registers r = v.registers();
                System.out.printf("exit: %s at rip=%x (%,d instructions)%n", e.describe(), r.rip(),
                        ev.machine().instructions());
                if (e instanceof VcpuExit.Halted && ++halts < 20) continue;
                System.out.println(r);
                System.out.println(v.specialRegisters());
                break;
            }
            if (line.length() > 0) System.out.println("| " + line + " (no newline yet)");
            System.out.printf("%,d instructions in %.1f s%n", ev.machine().instructions(),
                    (System.nanoTime() - start) / 1e9);
            System.exit(0);
        }
    }
}
