package vmm.emu.oracle;

import static vmm.emu.oracle.X86State.RCX;

/**
 * Branches whose decision shows without leaving the trampoline: each jumps over a marker, LEA
 * EAX,[RAX+1] (8D 40 01, no flags), so taken or not both paths end at the same place, and EAX
 * tells which was taken. Never with a 66 prefix (it would truncate the target). Forms of two
 * instructions, so objdump's one-instruction check does not apply to them (mnemonic null).
 */
final class Branches {
    /** The marker the branches jump over. */
    private static final int[] MARKER = {0x8D, 0x40, 0x01};

    private Branches() {}

    static void add(InstructionForms f) {
        for (int cc = 0; cc < 16; cc++) {
            final int k = cc;
            f.add("j" + InstructionForms.CC[cc] + " rel8 (" + String.format("%02x", 0x70 + cc) + ")", null,
                    c -> c.b(0x70 + k, MARKER.length).b(MARKER));
        }
        f.add("jcc rel32 (0f 80+cc)", null, c -> c.b(0x0F, 0x80 + c.rnd.nextInt(16)).imm(4, MARKER.length).b(MARKER));
        f.add("jmp rel8 (eb)", null, c -> c.b(0xEB, MARKER.length).b(MARKER));
        String[] loops = {"loopne (e0)", "loope (e1)", "loop (e2)", "jrcxz/jecxz (e3)"};
        for (int i = 0; i < loops.length; i++) {
            final int opcode = 0xE0 + i;
            f.add(loops[i], null, c -> {
                // the count: 0, 1, 2 (the edges) or anything; a 67 picks ECX (CX in 32-bit code)
                long count = switch (c.rnd.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> 1;
                    case 2 -> 2;
                    default -> c.value(64);
                };
                c.in.gpr[RCX] = c.rnd.nextBoolean() ? count : c.rnd.nextLong() & ~0xFFFFL | count & 0xFFFF;
                if (c.rnd.nextInt(3) == 0) c.b(0x67);
                c.b(opcode, MARKER.length).b(MARKER);
            });
        }
    }
}
