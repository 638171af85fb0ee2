package vmm.emu.internal.vm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.DescriptorTable;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VcpuStateBlock;
import vmm.core.hypervisor.VmConfig;
import vmm.emu.internal.cpu.Cpu;
import vmm.emu.internal.cpu.InterruptSource;
import vmm.emu.internal.cpu.Machine;
import vmm.emu.internal.cpu.PhysicalMemory;
import vmm.emu.internal.cpu.VirtualClock;
import vmm.emu.internal.irq.VcpuInterrupts;
import vmm.core.device.DeviceState;

/** A software vCPU behind the {@link Vcpu} SPI: maps the SPI's register views onto {@link Cpu}. */
final class EmuVcpu implements Vcpu {
    /** The SPI's register order mapped to the CPU's encoding order. */
    private static final int[] GPR = {Cpu.RAX, Cpu.RBX, Cpu.RCX, Cpu.RDX, Cpu.RSI, Cpu.RDI, Cpu.RSP, Cpu.RBP,
            8, 9, 10, 11, 12, 13, 14, 15};
    /** As CPUID leaf 0x80000008 reports them. */
    private static final int PHYSICAL_ADDRESS_BITS = 40;
    private static final int KVM_MP_STATE_RUNNABLE = 0, KVM_MP_STATE_UNINITIALIZED = 1, KVM_MP_STATE_HALTED = 3;

    private final int index;
    private final Machine machine;
    /** Its local APIC's CPU side; null in a VM without interrupt controllers. */
    private VcpuInterrupts interrupts;
    private volatile boolean closed;

    EmuVcpu(int index, VmConfig config, PhysicalMemory phys, VirtualClock clock) {
        this.index = index;
        this.machine = new Machine(index, config.vcpus(), phys, clock, config.inKernelIrqchip());
    }

    /** The software CPU, for the interrupt controllers' wiring and for tests. */
    Machine machine() {
        return machine;
    }

    /** Wires the vCPU to its local APIC: interrupts at instruction boundaries, HLT waits, INIT/SIPI, its page. */
    void attach(VcpuInterrupts irq) {
        this.interrupts = irq;
        machine.setLocalApic(irq.mmio());
        machine.setInterruptSource(new InterruptSource() {
            @Override
            public boolean hasInterrupt() {
                return irq.hasInterrupt();
            }

            @Override
            public int acknowledge() {
                return irq.acknowledge();
            }

            @Override
            public boolean takeNmi() {
                return irq.takeNmi();
            }

            @Override
            public boolean takeInit() {
                return irq.takeInit();
            }

            @Override
            public int takeSipi() {
                return irq.takeStartup();
            }

            @Override
            public boolean waitingForStartup() {
                return irq.waitingForStartup();
            }

            @Override
            public boolean writeApicBase(long value) {
                return irq.writeApicBase(value, PHYSICAL_ADDRESS_BITS);
            }
        });
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public VcpuExit run(IoPortBus ports, MmioBus mmio) {
        if (closed) throw new IllegalStateException("vCPU " + index + " is closed");
        return machine.run(ports, mmio);
    }

    @Override
    public void kick() {
        machine.kick();
    }

    @Override
    public Registers registers() {
        Cpu c = machine.cpu();
        Registers r = new Registers();
        Registers.Reg[] regs = Registers.Reg.values();
        for (int i = 0; i < 16; i++) r.set(regs[i], c.r[GPR[i]]);
        return r.rip(c.rip).rflags(c.rflags());
    }

    @Override
    public void setRegisters(Registers r) {
        Cpu c = machine.cpu();
        Registers.Reg[] regs = Registers.Reg.values();
        for (int i = 0; i < 16; i++) c.r[GPR[i]] = r.get(regs[i]);
        c.rip = r.rip();
        c.setRflags(r.rflags());
    }

    private static final SpecialRegisters.Seg[] SEGS = {SpecialRegisters.Seg.ES, SpecialRegisters.Seg.CS,
            SpecialRegisters.Seg.SS, SpecialRegisters.Seg.DS, SpecialRegisters.Seg.FS, SpecialRegisters.Seg.GS};

    @Override
    public SpecialRegisters specialRegisters() {
        Cpu c = machine.cpu();
        SpecialRegisters s = new SpecialRegisters();
        for (int i = 0; i < 6; i++) s.segment(SEGS[i], c.seg[i]);
        s.segment(SpecialRegisters.Seg.TR, c.tr).segment(SpecialRegisters.Seg.LDT, c.ldtr);
        s.gdt(new DescriptorTable(c.gdtBase, c.gdtLimit)).idt(new DescriptorTable(c.idtBase, c.idtLimit));
        s.cr0(c.cr0).cr2(c.cr2).cr3(c.cr3).cr4(c.cr4).cr8(c.cr8).efer(c.efer).apicBase(machine.apicBaseMsr());
        return s;
    }

    @Override
    public void setSpecialRegisters(SpecialRegisters s) {
        Cpu c = machine.cpu();
        c.cr0 = s.cr0();
        c.cr2 = s.cr2();
        c.cr3 = s.cr3();
        c.cr4 = s.cr4();
        c.cr8 = s.cr8();
        c.efer = s.efer();
        for (int i = 0; i < 6; i++) c.setSegment(i, s.segment(SEGS[i]));
        c.tr = s.segment(SpecialRegisters.Seg.TR);
        c.ldtr = s.segment(SpecialRegisters.Seg.LDT);
        c.gdtBase = s.gdt().base();
        c.gdtLimit = s.gdt().limit() & 0xFFFF;
        c.idtBase = s.idt().base();
        c.idtLimit = s.idt().limit() & 0xFFFF;
        if (s.apicBase() != 0) {
            if (interrupts != null && !interrupts.writeApicBase(s.apicBase(), PHYSICAL_ADDRESS_BITS))
                throw new IllegalArgumentException(String.format("APIC base 0x%x is not valid", s.apicBase()));
            machine.setApicBaseMsr(s.apicBase());
        }
        machine.stateChanged();
    }

    @Override
    public OptionalLong translate(long linearAddress) {
        return machine.translate(linearAddress);
    }

    @Override
    public Map<Integer, Long> msrs(int... indices) {
        Map<Integer, Long> m = new LinkedHashMap<>();
        for (int i : indices) {
            Long v = machine.readMsr(i);
            if (v != null) m.put(i, v);
        }
        return m;
    }

    @Override
    public void setMsrs(Map<Integer, Long> values) {
        values.forEach((k, v) -> {
            if (!machine.writeMsr(k, v))
                throw new HypervisorException(String.format("MSR 0x%x is not in the model", k));
        });
    }

    @Override
    public byte[] state(VcpuStateBlock block) {
        ByteBuffer b;
        switch (block) {
            case FPU -> {
                return new byte[512]; // the model has no x87/SSE state
            }
            case LAPIC -> {
                return apic().saveRegisters();
            }
            case EVENTS -> {
                b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
                b.putInt(machine.inInterruptShadow() ? 1 : 0);
            }
            default -> {
                b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
                b.putInt(machine.waitingForSipi() ? KVM_MP_STATE_UNINITIALIZED
                        : machine.halted() ? KVM_MP_STATE_HALTED : KVM_MP_STATE_RUNNABLE);
            }
        }
        return b.array();
    }

    @Override
    public void setState(VcpuStateBlock block, byte[] data) {
        if (block == VcpuStateBlock.LAPIC) {
            apic().loadRegisters(data);
            return;
        }
        int want = block == VcpuStateBlock.FPU ? 512 : 4;
        if (data.length != want)
            throw new IllegalArgumentException(block + " is " + want + " bytes, got " + data.length);
        int v = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        switch (block) {
            case EVENTS -> machine.setInterruptShadow(v != 0);
            case MP_STATE -> {
                machine.setWaitingForSipi(v == KVM_MP_STATE_UNINITIALIZED);
                if (interrupts != null) interrupts.setWaitingForStartup(v == KVM_MP_STATE_UNINITIALIZED);
                machine.setHalted(v == KVM_MP_STATE_HALTED);
            }
            default -> {
            }
        }
    }

    @Override
    public DeviceState saveState() {
        return machine.saveState().toDeviceState();
    }

    @Override
    public void restoreState(DeviceState state) {
        machine.restoreState(vmm.emu.internal.cpu.CpuState.from(state));
    }

    private VcpuInterrupts apic() {
        if (interrupts == null) throw new IllegalStateException(EmuVm.NO_IRQCHIP);
        return interrupts;
    }

    @Override
    public void close() {
        closed = true;
        machine.leaveLockstep();
    }
}
