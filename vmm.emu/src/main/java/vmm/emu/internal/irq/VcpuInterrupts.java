package vmm.emu.internal.irq;

import java.util.Objects;

import vmm.core.bus.IoHandler;

/**
 * What one software vCPU sees of the interrupt controllers: its local APIC's
 * CPU side, thread-safe. Called by that vCPU's thread (the others reach its
 * APIC through messages). {@link #hasInterrupt()} is a volatile read, cheap
 * enough for every instruction boundary; the rest take the chip's lock.
 *
 * <p>The APIC's register page is per vCPU and relocatable through the APIC
 * base MSR, so it is not on the shared MMIO bus: the vCPU's memory path sends
 * an access to {@link #mmio()} when {@link #decodesApicPage(long)} says the
 * address is its own APIC's, before it asks the bus.
 */
public final class VcpuInterrupts {
    private final Object lock;
    private final LocalApic apic;
    private final IoHandler mmio;
    private final Runnable afterWrite;

    VcpuInterrupts(Object lock, LocalApic apic, Runnable afterWrite) {
        this.lock = Objects.requireNonNull(lock, "lock");
        this.apic = Objects.requireNonNull(apic, "apic");
        this.afterWrite = Objects.requireNonNull(afterWrite, "afterWrite");
        this.mmio = new MmioIo(lock, apic, afterWrite);
    }

    public int index() {
        return apic.index();
    }

    /** Whether an external interrupt waits (the CPU takes it if RFLAGS.IF and no interrupt shadow allow). */
    public boolean hasInterrupt() {
        return apic.hasInterrupt();
    }

    /** The INTA cycle: the vector to deliver through the IDT, or -1 if none is deliverable any more. */
    public int acknowledge() {
        synchronized (lock) {
            return apic.acknowledge();
        }
    }

    /** Takes a pending NMI; true once per NMI. */
    public boolean takeNmi() {
        synchronized (lock) {
            return apic.takeNmi();
        }
    }

    /** Takes a pending INIT: true means the vCPU resets its registers (an AP then waits for a SIPI). */
    public boolean takeInit() {
        synchronized (lock) {
            return apic.takeInit();
        }
    }

    /** Takes a pending SIPI: the start-up vector if the vCPU was waiting for one, else -1. */
    public int takeStartup() {
        synchronized (lock) {
            return apic.takeStartup();
        }
    }

    /** Whether the vCPU must not run: an AP after power-on or INIT, until a SIPI. */
    public boolean waitingForStartup() {
        synchronized (lock) {
            return apic.waitingForStartup();
        }
    }

    /** Whether an NMI, INIT or SIPI waits, so that a halted vCPU must look. */
    public boolean hasEvent() {
        synchronized (lock) {
            return apic.nmiPending() || apic.initPending() || (apic.startupPending() && apic.waitingForStartup());
        }
    }

    /** RDMSR IA32_APIC_BASE (0x1B). */
    public long apicBase() {
        synchronized (lock) {
            return apic.apicBase();
        }
    }

    /** WRMSR IA32_APIC_BASE; false means the CPU raises #GP (reserved bits, x2APIC). */
    public boolean writeApicBase(long value, int physicalAddressBits) {
        synchronized (lock) {
            return apic.writeApicBase(value, physicalAddressBits);
        }
    }

    /** Whether {@code address} falls in this vCPU's APIC page (the APIC enabled in its base MSR). */
    public boolean decodesApicPage(long address) {
        synchronized (lock) {
            return apic.hardwareEnabled() && (address & ~(long) (LocalApic.PAGE_SIZE - 1)) == apic.mmioBase();
        }
    }

    /** The register page; offsets are relative to the page's base. */
    public IoHandler mmio() {
        return mmio;
    }

    /** Power-on state of the APIC, for a machine reset (the vCPU's own reset). */
    public void powerOn() {
        synchronized (lock) {
            apic.powerOn();
        }
    }

    /** The APIC's registers in KVM's kvm_lapic_state layout ({@link LocalApic#STATE_SIZE} bytes). */
    public byte[] saveRegisters() {
        synchronized (lock) {
            return apic.saveRegisters();
        }
    }

    /**
     * Restores registers saved by {@link #saveRegisters()}; only while the vCPU does not run.
     *
     * @throws IllegalArgumentException if {@code state} has the wrong size
     */
    public void loadRegisters(byte[] state) {
        synchronized (lock) {
            apic.loadRegisters(state);
        }
        afterWrite.run();
    }

    /** Sets whether the vCPU waits for a SIPI, as its restored multiprocessing state says. */
    public void setWaitingForStartup(boolean waiting) {
        synchronized (lock) {
            apic.setWaitingForStartup(waiting);
        }
    }

    LocalApic apic() {
        return apic;
    }
}
