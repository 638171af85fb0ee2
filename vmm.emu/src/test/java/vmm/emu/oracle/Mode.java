package vmm.emu.oracle;

/** The x86 operating modes the oracles decode and run in, with binutils' machine name for each. */
public enum Mode {
    /** Real mode and 16-bit protected mode: 16-bit operands and addresses by default. */
    BITS16("i8086", 16),
    /** 32-bit protected mode and compatibility mode. */
    BITS32("i386", 32),
    /** 64-bit mode (long mode, CS.L=1): REX prefixes, 64-bit addresses. */
    BITS64("i386:x86-64", 64);

    /** The argument of {@code objdump -m}. */
    public final String objdumpMachine;
    public final int bits;

    Mode(String objdumpMachine, int bits) {
        this.objdumpMachine = objdumpMachine;
        this.bits = bits;
    }
}
