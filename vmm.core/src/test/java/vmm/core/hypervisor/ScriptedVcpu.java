package vmm.core.hypervisor;

import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;

/**
 * A vCPU whose guest is a script: {@link #run} blocks, as a running guest
 * would, until the test queues an exit or someone kicks it.
 */
final class ScriptedVcpu implements Vcpu {
    private final int index;
    private final BlockingQueue<Object> exits = new LinkedBlockingQueue<>();
    final AtomicInteger runs = new AtomicInteger();
    Registers registers = new Registers();
    SpecialRegisters specialRegisters = new SpecialRegisters();

    ScriptedVcpu(int index) {
        this.index = index;
    }

    /** The next run returns {@code exit}. */
    void exit(VcpuExit exit) {
        exits.add(exit);
    }

    /** The next run carries out {@code access} on the vCPU's thread, as a device handler would, then returns. */
    void access(Runnable access) {
        exits.add(access);
    }

    /** The next run throws {@code error}, as a device handler on the exit path would. */
    void fail(RuntimeException error) {
        exits.add(error);
    }

    @Override public int index() { return index; }

    @Override
    public VcpuExit run(IoPortBus ports, MmioBus mmio) {
        runs.incrementAndGet();
        Object next;
        try {
            next = exits.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new VcpuExit.Interrupted();
        }
        if (next instanceof RuntimeException e) throw e;
        if (next instanceof Runnable access) {
            access.run();
            return new VcpuExit.Interrupted();
        }
        return (VcpuExit) next;
    }

    @Override public void kick() { exits.add(new VcpuExit.Interrupted()); }
    @Override public Registers registers() { return registers; }
    @Override public void setRegisters(Registers r) { registers = r; }
    @Override public SpecialRegisters specialRegisters() { return specialRegisters; }
    @Override public void setSpecialRegisters(SpecialRegisters r) { specialRegisters = r; }
    @Override public OptionalLong translate(long linear) { return OptionalLong.of(linear); }
    @Override public Map<Integer, Long> msrs(int... indices) { return Map.of(); }
    @Override public void setMsrs(Map<Integer, Long> values) { }
    @Override public byte[] state(VcpuStateBlock block) { return new byte[0]; }
    @Override public void setState(VcpuStateBlock block, byte[] data) { }
    @Override public void close() { }
}
