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

    /** A boot sector that prints a line on the debug console (0x402) and powers off through the PIIX4 PM block. */
    static byte[] bootSector() {
        int[] code = {
            0x31, 0xC0, 0x8E, 0xD8,                 // xor ax,ax; mov ds,ax
            0xBE, 0x40, 0x7C, 0xBA, 0x02, 0x04,     // mov si,0x7c40; mov dx,0x402
            0xAC, 0x08, 0xC0, 0x74, 0x03, 0xEE,     // l: lodsb; or al,al; jz done; out dx,al
            0xEB, 0xF8,                             // jmp l
            0x66, 0xB8, 0x40, 0x0B, 0x00, 0x80,     // done: mov eax,0x80000b40 (00:01.3 PMBA)
            0xBA, 0xF8, 0x0C, 0x66, 0xEF,           // mov dx,0xcf8; out dx,eax
            0xBA, 0xFC, 0x0C, 0xED,                 // mov dx,0xcfc; in ax,dx
            0x25, 0xC0, 0xFF, 0x05, 0x04, 0x00,     // and ax,0xffc0; add ax,4
            0x89, 0xC2, 0xB8, 0x00, 0x20, 0xEF,     // mov dx,ax; mov ax,0x2000; out dx,ax
            0xFA, 0xF4};                            // cli; hlt
        byte[] mbr = new byte[512];
        for (int i = 0; i < code.length; i++) mbr[i] = (byte) code[i];
        byte[] msg = "booted from the virtio-blk disk on vmm.emu\n\0"
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(msg, 0, mbr, 0x40, msg.length);
        mbr[510] = 0x55;
        mbr[511] = (byte) 0xAA;
        return mbr;
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 30;
        byte[] rom = Files.readAllBytes(Path.of("/usr/share/seabios/bios-256k.bin"));
        java.util.concurrent.atomic.AtomicReference<EmuVcpu> cpu = new java.util.concurrent.atomic.AtomicReference<>();
        long start = System.nanoTime();
        var bean = java.lang.management.ManagementFactory.getThreadMXBean();
        long cpuStart = bean.getCurrentThreadCpuTime();
        try (GuestMemory memory = PcPlatform.memory(64L << 20, rom)) {
            vmm.core.machine.Machine machine = new vmm.core.machine.Machine(memory, new InterruptRecorder());
            PcPlatform platform = PcPlatform.install(machine, 1, new PowerControl() {
                @Override public void powerOff(String how) {
                    System.out.printf("power off: %s after %,d instructions, %.2f s (%.2f s of the vCPU thread's CPU)%n",
                            how, cpu.get().machine().instructions(), (System.nanoTime() - start) / 1e9,
                            (bean.getCurrentThreadCpuTime() - cpuStart) / 1e9);
                    System.exit(0);
                }
                @Override public void reset(String how) { System.out.println("reset: " + how); }
            }, line -> System.out.println("fw| " + line));
            if (args.length > 1) {
                Path disk = Files.createTempFile("emu-probe", ".img");
                disk.toFile().deleteOnExit();
                byte[] image = new byte[1 << 20];
                byte[] boot = bootSector();
                System.arraycopy(boot, 0, image, 0, boot.length);
                Files.write(disk, image);
                machine.plug("disk", "virtio-blk", vmm.core.pci.PciAddress.slot(4),
                        java.util.Map.of("path", disk.toString()), "virtio-blk",
                        new device.virtio_block.VirtioBlockProvider());
            }
            VirtualMachine vm = new EmuHypervisor().createVm(memory, new VmConfig(1, false));
            Vcpu v = vm.createVcpu(0);
            EmuVcpu ev = (EmuVcpu) v;
            cpu.set(ev);
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            int halts = 0;
            ProbeKicker.start(v);
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
