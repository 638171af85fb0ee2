package vmm.emu.internal.cpu;

/**
 * The memory-type MSRs as a table (SDM vol. 3 §12.11, §12.12; KVM's values): MTRRcap reads 0x508
 * (eight variable ranges, the fixed ranges, write-combining; no SMRR), the default type, the
 * eleven fixed-range registers, eight variable base/mask pairs and the PAT. The values are stored
 * and checked as the hardware checks them (#GP on a reserved bit or an undefined memory type);
 * the model has no caches, so the types change nothing else.
 */
final class MtrrMsrs {
    static final int MTRRCAP = 0xFE, PHYSBASE0 = 0x200, PHYSMASK7 = 0x20F, FIX64K_00000 = 0x250,
            FIX16K_80000 = 0x258, FIX16K_A0000 = 0x259, FIX4K_C0000 = 0x268, FIX4K_F8000 = 0x26F, PAT = 0x277,
            DEF_TYPE = 0x2FF;
    static final long MTRRCAP_VALUE = 0x508;
    /** The PAT after reset: WB, WT, UC-, UC, and the same again. */
    static final long PAT_RESET = 0x0007040600070406L;
    /** Physical address bits of the model (CPUID 0x80000008: 40). */
    static final int PHYS_BITS = 40;

    private MtrrMsrs() {
    }

    /** Whether {@code msr} is one of the stored registers of this table (MTRRcap, which is read-only, is not). */
    static boolean stored(int msr) {
        return msr >= PHYSBASE0 && msr <= PHYSMASK7 || msr == FIX64K_00000 || msr == FIX16K_80000
                || msr == FIX16K_A0000 || msr >= FIX4K_C0000 && msr <= FIX4K_F8000 || msr == PAT || msr == DEF_TYPE;
    }

    /** The value after reset. */
    static long reset(int msr) {
        return msr == PAT ? PAT_RESET : 0;
    }

    /** Whether the hardware accepts {@code v} in {@code msr} (a stored register). */
    static boolean valid(int msr, long v) {
        long physHigh = -1L << PHYS_BITS;
        if (msr == PAT) {
            for (int i = 0; i < 8; i++) {
                int t = (int) (v >>> (8 * i)) & 0xFF;
                if (t == 2 || t == 3 || t > 7) return false;
            }
            return true;
        }
        if (msr == DEF_TYPE) return (v & ~0xCFFL) == 0 && memoryType((int) v & 0xFF);
        if (msr >= PHYSBASE0 && msr <= PHYSMASK7) {
            if ((msr & 1) == 0) return (v & (physHigh | 0xF00)) == 0 && memoryType((int) v & 0xFF);
            return (v & (physHigh | 0x7FF)) == 0;
        }
        for (int i = 0; i < 8; i++) if (!memoryType((int) (v >>> (8 * i)) & 0xFF)) return false;
        return true;
    }

    /** UC, WC, WT, WP, WB: the types an MTRR may hold. */
    private static boolean memoryType(int t) {
        return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
    }
}
