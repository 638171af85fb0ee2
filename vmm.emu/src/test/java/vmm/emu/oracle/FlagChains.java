package vmm.emu.oracle;

import static vmm.emu.oracle.Flags.AF;
import static vmm.emu.oracle.Flags.CF;
import static vmm.emu.oracle.Flags.OF;
import static vmm.emu.oracle.Flags.PF;
import static vmm.emu.oracle.Flags.SF;
import static vmm.emu.oracle.Flags.STATUS;
import static vmm.emu.oracle.Flags.ZF;

import java.util.List;
import vmm.emu.oracle.InstructionForms.Form;

/**
 * Forms of two instructions: any form of the mode, then one that reads the flags it left (SETcc,
 * CMOVcc, ADC, SBB, INC, RCL, CMC, LAHF, Jcc). One instruction from an explicit RFLAGS never shows
 * whether flags computed lazily are right when the next instruction reads them, or keeps some
 * (INC keeps CF, RCL keeps SF ZF AF PF). The reader is drawn so that it reads none of the flags
 * the first instruction left undefined, and uses none of its undefined registers; where no such
 * reader exists the case is the first instruction alone.
 */
final class FlagChains {
    /** The flags each condition code reads (SDM vol. 1, appendix B), by cc / 2. */
    private static final long[] CONDITION = {OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF};

    private FlagChains() {}

    static void add(InstructionForms f, List<Form> firsts) {
        String[] readers = {"setcc r8", "cmovcc r, r", "adc r, r", "sbb r, r", "inc r", "rcl r, 1", "cmc", "lahf",
            "jcc over lea eax,[rax+1]"};
        for (int i = 0; i < readers.length; i++) {
            final int kind = i;
            f.add("any form, then " + readers[i], null, c -> {
                Form first = firsts.get(c.rnd.nextInt(firsts.size()));
                first.maker().make(c);
                c.first = first.name();
                reader(c, kind);
            });
        }
    }

    private static void reader(CaseBuilder c, int kind) {
        long undefined = c.undefinedFlags;
        int regs = c.legacy32 ? 8 : 16;
        int r, s;
        do r = c.rnd.nextInt(regs); while (r == X86State.RSP || (c.undefinedRegs & 1 << r) != 0);
        do s = c.rnd.nextInt(regs); while (s == X86State.RSP || (c.undefinedRegs & 1 << s) != 0);
        boolean x64 = !c.legacy32;
        switch (kind) {
            case 0, 1 -> {                                   // SETcc r8, CMOVcc r, r
                int cc = -1;
                for (int attempt = 0; attempt < 32 && cc < 0; attempt++) {
                    int k = c.rnd.nextInt(16);
                    if ((CONDITION[k / 2] & undefined) == 0) cc = k;
                }
                if (cc < 0) return;
                if (kind == 0) {
                    if (!x64) {                              // AL..BL, not AH..BH
                        r = c.rnd.nextInt(4);
                        if ((c.undefinedRegs & 1 << r) != 0) return;
                    } else {
                        c.b(0x40 | (r >= 8 ? 1 : 0));        // with a REX, 4..7 are SPL..DIL: never SPL here
                    }
                    c.b(0x0F, 0x90 + cc, 0xC0 | (r & 7));
                } else {
                    if (x64) c.b(0x48 | (r >= 8 ? 4 : 0) | (s >= 8 ? 1 : 0));
                    c.b(0x0F, 0x40 + cc, 0xC0 | (r & 7) << 3 | (s & 7));
                }
            }
            case 2, 3 -> {                                   // ADC/SBB r/m, r: reads CF, writes every status flag
                if ((undefined & CF) != 0) return;
                if (x64) c.b(0x48 | (s >= 8 ? 4 : 0) | (r >= 8 ? 1 : 0));
                c.b(kind == 2 ? 0x11 : 0x19, 0xC0 | (s & 7) << 3 | (r & 7));
                c.undefinedFlags = 0;
            }
            case 4 -> {                                      // INC r/m: keeps CF, writes the rest
                if (x64) c.b(0x48 | (r >= 8 ? 1 : 0));
                c.b(0xFF, 0xC0 | (r & 7));
                c.undefinedFlags = undefined & CF;
            }
            case 5 -> {                                      // RCL r/m, 1: reads CF, writes CF and OF, keeps the rest
                if ((undefined & CF) != 0) return;
                if (x64) c.b(0x48 | (r >= 8 ? 1 : 0));
                c.b(0xD1, 0xD0 | (r & 7));
                c.undefinedFlags = undefined & ~(CF | OF);
            }
            case 6 -> {                                      // CMC
                if ((undefined & CF) != 0) return;
                c.b(0xF5);
            }
            case 7 -> {                                      // LAHF: AH <- SF ZF AF PF CF
                if ((undefined & (STATUS & ~OF)) != 0 || (c.undefinedRegs & 1 << X86State.RAX) != 0) return;
                c.b(0x9F);
            }
            default -> {                                     // Jcc rel8 over a LEA that marks the way taken
                int cc = -1;
                for (int attempt = 0; attempt < 32 && cc < 0; attempt++) {
                    int k = c.rnd.nextInt(16);
                    if ((CONDITION[k / 2] & undefined) == 0) cc = k;
                }
                if (cc < 0 || (c.undefinedRegs & 1 << X86State.RAX) != 0) return;
                c.b(0x70 + cc, 3, 0x8D, 0x40, 0x01);
            }
        }
    }
}
