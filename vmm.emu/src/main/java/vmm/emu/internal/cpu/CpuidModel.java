package vmm.emu.internal.cpu;

/**
 * CPUID as the model answers it: a qemu64-like AMD identity that lists only
 * what the software CPU implements (x87 as far as FXSR needs, MMX, SSE, SSE2;
 * no SSE3 or later, AVX, XSAVE, x2APIC, TSC deadline), the
 * hypervisor bit, the vCPU index as APIC ID, IA32_TSC_ADJUST, and no TSC/crystal leaves
 * (0x15, 0x16), so guests calibrate their clocks against the timers.
 */
final class CpuidModel {
    static final int MAX_BASIC = 0xD, MAX_EXTENDED = 0x80000008;
    // Leaf 1 EDX: FPU, DE, PSE, TSC, MSR, PAE, CX8, APIC, MTRR, PGE, CMOV, PAT, CLFSH, MMX, FXSR, SSE, SSE2.
    static final int LEAF1_EDX = 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 8 | 1 << 9 | 1 << 12 | 1 << 13
            | 1 << 15 | 1 << 16 | 1 << 19 | 1 << 23 | 1 << 24 | 1 << 25 | 1 << 26;
    static final int LEAF1_ECX_CX16 = 1 << 13, LEAF1_ECX_HYPERVISOR = 1 << 31;
    // Leaf 0x80000001 EDX: SYSCALL, NX, RDTSCP, LM, plus the leaf 1 bits AMD repeats there.
    static final int EXT1_EDX = (LEAF1_EDX & 0x0183F3FF) | 1 << 11 | 1 << 20 | 1 << 27 | 1 << 29;
    static final int EXT1_ECX = 1; // LAHF/SAHF in 64-bit mode
    /**
     * Leaf 7 EBX bit 1: IA32_TSC_ADJUST. With the invariant TSC it tells Linux (check_system_tsc_reliable) that the
     * TSC needs no clocksource watchdog: on a loaded host the vCPU threads miss timer ticks, and a watchdog that
     * compares the TSC with jiffies then declares the one true clock unstable and can leave the kernel with none.
     */
    static final int LEAF7_EBX_TSC_ADJUST = 1 << 1;
    static final String BRAND = "vmm.emu software x86 CPU";

    private CpuidModel() {
    }

    static void cpuid(Cpu c) {
        c.machine.serial++;
        Machine m = c.machine;
        int[] r = leaf((int) c.r[Cpu.RAX], (int) c.r[Cpu.RCX], m.index, m.vcpus, m.apic != null);
        c.setReg(Cpu.RAX, 4, r[0] & 0xFFFFFFFFL);
        c.setReg(Cpu.RBX, 4, r[1] & 0xFFFFFFFFL);
        c.setReg(Cpu.RCX, 4, r[2] & 0xFFFFFFFFL);
        c.setReg(Cpu.RDX, 4, r[3] & 0xFFFFFFFFL);
    }

    /** EAX, EBX, ECX, EDX for {@code leaf}/{@code subleaf} on vCPU {@code index} of {@code count}. */
    static int[] leaf(int leaf, int subleaf, int index, int count, boolean apic) {
        return switch (leaf) {
            case 0 -> new int[] {MAX_BASIC, str("Auth"), str("cAMD"), str("enti")};
            case 1 -> new int[] {0x00060FB1, index << 24 | Math.min(count, 255) << 16 | 8 << 8,
                    LEAF1_ECX_CX16 | LEAF1_ECX_HYPERVISOR,
                    (apic ? LEAF1_EDX : LEAF1_EDX & ~(1 << 9)) | (count > 1 ? 1 << 28 : 0)};
            case 7 -> subleaf == 0 ? new int[] {0, LEAF7_EBX_TSC_ADJUST, 0, 0} : new int[4];
            case 0x40000000 -> new int[] {0x40000000, str("vmm."), str("emu "), str("    ")};
            case 0x80000000 -> new int[] {MAX_EXTENDED, str("Auth"), str("cAMD"), str("enti")};
            case 0x80000001 -> new int[] {0x00060FB1, 0, EXT1_ECX, EXT1_EDX};
            case 0x80000002, 0x80000003, 0x80000004 -> brand(leaf - 0x80000002);
            // EDX bit 8: the invariant TSC. Every vCPU's TSC is the VM's one VirtualClock (plus what a WRMSR set), at
            // one rate in every state, HLT included, so the TSCs agree across vCPUs and Linux may keep the TSC as
            // its clock instead of reading the PM timer through port I/O.
            case 0x80000007 -> new int[] {0, 0, 0, 1 << 8};
            case 0x80000008 -> new int[] {0x3028, 0, Math.max(count - 1, 0) & 0xFF, 0}; // 40 physical, 48 linear bits
            default -> new int[4];
        };
    }

    private static int[] brand(int part) {
        byte[] b = new byte[48];
        byte[] s = BRAND.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, b, 0, Math.min(s.length, 47));
        int[] r = new int[4];
        for (int i = 0; i < 4; i++) {
            int at = part * 16 + i * 4;
            r[i] = (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
        }
        return r;
    }

    private static int str(String four) {
        return four.charAt(0) | four.charAt(1) << 8 | four.charAt(2) << 16 | four.charAt(3) << 24;
    }
}
