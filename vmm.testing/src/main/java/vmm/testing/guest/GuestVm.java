package vmm.testing.guest;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.DescriptorTable;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.StopReport;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.hypervisor.VmRunner;
import vmm.core.memory.GuestMemory;
import vmm.testing.HangGuard;

/**
 * A small real VM for guest tests on any {@link Hypervisor}: 512 KiB of RAM at 0
 * (or memory the test lays out), buses of its own, and helpers to put a vCPU in
 * real or flat 32-bit protected mode. Owns the hypervisor it was given and closes
 * it (when it is {@link AutoCloseable}) with the VM. One test thread drives it.
 */
public final class GuestVm implements AutoCloseable {
    /** RAM below the legacy video hole; 0xA0000 up is free for MMIO that real-mode code can reach. */
    public static final long RAM_SIZE = 0x80000;
    /** Where tests put the GDT of protected-mode guests: null, flat code (0x08), flat data (0x10). */
    public static final long GDT = 0x500;
    public static final int CODE32 = 0x08, DATA32 = 0x10;

    public final Hypervisor hypervisor;
    public final GuestMemory memory;
    public final VirtualMachine vm;
    public final List<Vcpu> vcpus = new ArrayList<>();
    public final IoPortBus ports = new IoPortBus();
    public final MmioBus mmio = new MmioBus();
    private VmRunner runner;

    private GuestVm(Hypervisor hypervisor, VmConfig config, Supplier<GuestMemory> memory) {
        this.hypervisor = hypervisor;
        GuestMemory m = null;
        VirtualMachine v = null;
        try {
            m = memory.get();
            v = hypervisor.createVm(m, config);
            for (int i = 0; i < config.vcpus(); i++) vcpus.add(v.createVcpu(i));
        } catch (RuntimeException e) {
            if (v != null) v.close();
            if (m != null) m.close();
            closeQuietly(hypervisor, e);
            throw e;
        }
        this.memory = m;
        this.vm = v;
    }

    /**
     * A VM with {@code config}'s vCPUs over the memory {@code memory} makes, on {@code hypervisor},
     * which the VM then owns.
     *
     * @throws vmm.core.hypervisor.HypervisorException when the back end cannot make the VM
     */
    public static GuestVm create(Hypervisor hypervisor, VmConfig config, Supplier<GuestMemory> memory) {
        return new GuestVm(hypervisor, config, memory);
    }

    /** A VM with {@code config}'s vCPUs over {@link #RAM_SIZE} of RAM, owning {@code hypervisor}. */
    public static GuestVm create(Hypervisor hypervisor, VmConfig config) {
        return new GuestVm(hypervisor, config, () -> GuestMemory.ofSize(RAM_SIZE));
    }

    public Vcpu vcpu() {
        return vcpus.getFirst();
    }

    public void load(long gpa, byte[] bytes) {
        memory.write(gpa, bytes, 0, bytes.length);
    }

    /** Real mode, all segments 0, at {@code rip}, stack below 0x8000, interrupts off. */
    public void realMode(Vcpu v, long rip) {
        SpecialRegisters s = v.specialRegisters();
        s.segment(SpecialRegisters.Seg.CS, Segment.realMode(0, true)).dataSegments(Segment.realMode(0, false));
        v.setSpecialRegisters(s);
        v.setRegisters(new Registers().rip(rip).rsp(0x8000));
    }

    /**
     * Flat 32-bit protected mode without paging at {@code rip}: writes the GDT at
     * {@link #GDT} (interrupts and IRET load CS from it), loads the segment caches
     * to match, and points the IDT at {@code idtBase} with {@code idtEntries} gates.
     */
    public void protectedMode(Vcpu v, long rip, long idtBase, int idtEntries) {
        memory.writeU64(GDT, 0);
        memory.writeU64(GDT + CODE32, 0x00CF9A000000FFFFL); // base 0, limit 4G, present, ring 0, code r/x, 32-bit
        memory.writeU64(GDT + DATA32, 0x00CF92000000FFFFL); // same, data r/w
        SpecialRegisters s = v.specialRegisters();
        s.segment(SpecialRegisters.Seg.CS, Segment.flat32(CODE32, true)).dataSegments(Segment.flat32(DATA32, false));
        s.gdt(new DescriptorTable(GDT, 3 * 8 - 1));
        s.idt(new DescriptorTable(idtBase, Math.max(0, idtEntries * 8 - 1)));
        s.cr0(SpecialRegisters.CR0_PE | SpecialRegisters.CR0_ET);
        v.setSpecialRegisters(s);
        v.setRegisters(new Registers().rip(rip).rsp(0x8000));
    }

    /** A 32-bit interrupt gate for {@code vector} at {@code handler}, in the IDT at {@code idtBase}. */
    public void interruptGate(long idtBase, int vector, long handler) {
        memory.writeU32(idtBase + vector * 8L, (long) CODE32 << 16 | (handler & 0xFFFF));
        memory.writeU32(idtBase + vector * 8L + 4, (handler & 0xFFFF0000L) | 0x8E00);
    }

    /** Starts the vCPUs on their threads. */
    public VmRunner start() {
        runner = new VmRunner("test-vm", vcpus, ports, mmio, memory);
        runner.start();
        return runner;
    }

    public VmRunner runner() {
        return runner;
    }

    /** Waits for the VM to stop by itself; fails the test after a generous bound instead of hanging. */
    public StopReport awaitStop() throws InterruptedException {
        return runner.awaitStop(HangGuard.BOUND)
                .orElseThrow(() -> new AssertionError("the guest did not stop within "
                        + HangGuard.BOUND.toSeconds() + " s"));
    }

    @Override
    public void close() throws Exception {
        try {
            if (runner != null) runner.stop();
        } finally {
            try {
                vm.close();
                memory.close();
            } finally {
                if (hypervisor instanceof AutoCloseable c) c.close();
            }
        }
    }

    private static void closeQuietly(Hypervisor hypervisor, RuntimeException cause) {
        if (!(hypervisor instanceof AutoCloseable c)) return;
        try {
            c.close();
        } catch (Exception e) {
            cause.addSuppressed(e);
        }
    }
}
