package vmm.emu.oracle;

import static vmm.emu.oracle.Flags.AF;
import static vmm.emu.oracle.Flags.CF;
import static vmm.emu.oracle.Flags.OF;
import static vmm.emu.oracle.Flags.PF;
import static vmm.emu.oracle.Flags.SF;
import static vmm.emu.oracle.Flags.ZF;

/**
 * The forms that exist only outside 64-bit mode: the BCD and ASCII adjusts (undefined flags per
 * the SDM: DAA, DAS: OF; AAA, AAS: OF, SF, ZF, PF; AAM, AAD: OF, AF, CF) and the one-byte
 * INC/DEC (40+r, 48+r), which 64-bit mode took for REX; and LEA with 16-bit addressing, which
 * checks the 16-bit address forms where the host cannot reach memory through them.
 */
final class Forms32 {
    private Forms32() {}

    static void add(InstructionForms f) {
        String[] names = {"daa", "das", "aaa", "aas"};
        int[] opcodes = {0x27, 0x2F, 0x37, 0x3F};
        long[] undefined = {OF, OF, OF | SF | ZF | PF, OF | SF | ZF | PF};
        for (int i = 0; i < 4; i++) {
            final int opcode = opcodes[i];
            final long u = undefined[i];
            f.add(names[i] + " (" + String.format("%02x", opcode) + ")", names[i], c -> {
                bcdOperand(c);
                c.b(opcode);
                c.undefinedFlags = u;
            });
        }
        f.add("aam imm8 (d4 ib)", "aam", c -> {
            bcdOperand(c);
            int base = c.rnd.nextInt(3) == 0 ? 1 + c.rnd.nextInt(255) : 10;   // 0 would be #DE
            c.b(0xD4, base);
            c.undefinedFlags = OF | AF | CF;
        });
        f.add("aad imm8 (d5 ib)", "aad", c -> {
            bcdOperand(c);
            int base = c.rnd.nextInt(3) == 0 ? c.rnd.nextInt(256) : 10;
            c.b(0xD5, base);
            c.undefinedFlags = OF | AF | CF;
        });
        f.add("lea r, m with 16-bit addressing (67 8d /r)", "lea", c -> {
            // the 16-bit forms ([bx+si], [bp+di], [si], [bx], disp16...) computed, not accessed:
            // their sum wraps at 64 KiB
            int size = InstructionForms.wide(c);
            int mod = c.rnd.nextInt(3), rm = c.rnd.nextInt(8), reg = c.register(size);
            if (size == 16) c.b(0x66);
            c.b(0x67, 0x8D, mod << 6 | reg << 3 | rm);
            if (mod == 1) c.imm(1, c.rnd.nextInt(256));
            if (mod == 2 || (mod == 0 && rm == 6)) c.imm(2, c.rnd.nextInt(0x10000));
        });
        for (int dec = 0; dec < 2; dec++) {
            final int opcode = dec == 0 ? 0x40 : 0x48;
            String m = dec == 0 ? "inc" : "dec";
            f.add(m + " r (" + String.format("%02x", opcode) + "+r)", m, c -> {
                int size = InstructionForms.wide(c);
                int r = c.register(size);
                if (size == 16) c.b(0x66);
                c.b(opcode + r);
            });
        }
    }

    /** AL and AH mostly BCD digits or packed BCD, sometimes anything; the flags stay random (CF, AF in). */
    private static void bcdOperand(CaseBuilder c) {
        long ax = switch (c.rnd.nextInt(3)) {
            case 0 -> c.rnd.nextInt(10) << 8 | c.rnd.nextInt(10);
            case 1 -> c.rnd.nextInt(10) << 12 | c.rnd.nextInt(10) << 8 | c.rnd.nextInt(10) << 4 | c.rnd.nextInt(10);
            default -> c.rnd.nextInt(0x10000);
        };
        c.in.gpr[X86State.RAX] = c.in.gpr[X86State.RAX] & ~0xFFFFL | ax;
    }
}
