package vmm.core.hypervisor;

import java.util.Arrays;

/**
 * The general-purpose registers, RIP and RFLAGS of a vCPU: a mutable value
 * read with {@link Vcpu#registers()}, changed, and written back with
 * {@link Vcpu#setRegisters}. Not thread-safe.
 */
public final class Registers {
    /** The registers, in the order the x86-64 ABI and {@code struct kvm_regs} list them. */
    public enum Reg { RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, R8, R9, R10, R11, R12, R13, R14, R15, RIP, RFLAGS }

    /** RFLAGS bit 1 is reserved and always set. */
    public static final long RFLAGS_RESERVED = 1L << 1;
    public static final long RFLAGS_IF = 1L << 9;

    private final long[] values = new long[Reg.values().length];

    public Registers() {
        values[Reg.RFLAGS.ordinal()] = RFLAGS_RESERVED;
    }

    public long get(Reg r) {
        return values[r.ordinal()];
    }

    public Registers set(Reg r, long value) {
        values[r.ordinal()] = value;
        return this;
    }

    public long rip() {
        return get(Reg.RIP);
    }

    public Registers rip(long value) {
        return set(Reg.RIP, value);
    }

    public long rflags() {
        return get(Reg.RFLAGS);
    }

    public Registers rflags(long value) {
        return set(Reg.RFLAGS, value);
    }

    public long rsp() {
        return get(Reg.RSP);
    }

    public Registers rsp(long value) {
        return set(Reg.RSP, value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Registers r && Arrays.equals(values, r.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    /** Every register, four to a line, for stop reports. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        Reg[] regs = Reg.values();
        for (int i = 0; i < regs.length; i++) {
            s.append(String.format("%-6s=%016x", regs[i].name().toLowerCase(), values[i]));
            s.append(i % 4 == 3 || i == regs.length - 1 ? "\n" : "  ");
        }
        return s.toString();
    }
}
