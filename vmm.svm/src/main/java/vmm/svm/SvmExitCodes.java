package vmm.svm;

/**
 * The VMCB EXITCODE values of AMD64 APM vol. 2, appendix C ("SVM intercept
 * exit codes"), named as there. KVM reports {@code KVM_EXIT_FAIL_ENTRY} on SVM
 * with the raw EXITCODE as the hardware failure reason; in practice that is
 * {@link #VMEXIT_INVALID}, which VMRUN gives when the guest state in the VMCB
 * fails its consistency checks.
 */
final class SvmExitCodes {
    static final long VMEXIT_CR0_READ = 0x000, VMEXIT_CR0_WRITE = 0x010, VMEXIT_DR0_READ = 0x020,
            VMEXIT_DR0_WRITE = 0x030, VMEXIT_EXCP0 = 0x040, VMEXIT_CR0_WRITE_TRAP = 0x090;
    static final long VMEXIT_NPF = 0x400, VMEXIT_AVIC_INCOMPLETE_IPI = 0x401, VMEXIT_AVIC_NOACCEL = 0x402,
            VMEXIT_VMGEXIT = 0x403;
    /** -1: VMRUN found the VMCB's guest state invalid. */
    static final long VMEXIT_INVALID = -1L;
    /** -2: the VMSA of an SEV-SNP guest was busy. */
    static final long VMEXIT_BUSY = -2L;
    /** -3: SEV-SNP: VMRUN needs the other sibling thread idle. */
    static final long VMEXIT_IDLE_REQUIRED = -3L;

    private static final String[] EXCEPTIONS = {"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
            "#OF overflow", "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
            "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present", "#SS stack fault",
            "#GP general protection", "#PF page fault", "vector 15", "#MF x87 floating point", "#AC alignment check",
            "#MC machine check", "#XM SIMD floating point", "#VE virtualization", "#CP control protection"};

    private SvmExitCodes() {}

    /** The APM's name of {@code code} with what it means, e.g. {@code "VMEXIT_HLT (0x78): HLT intercepted"}. */
    static String describe(long code) {
        return name(code) + String.format(" (0x%x)", code) + ": " + meaning(code);
    }

    static String name(long code) {
        if (code >= 0x000 && code <= 0x00F) return "VMEXIT_CR" + code + "_READ";
        if (code >= 0x010 && code <= 0x01F) return "VMEXIT_CR" + (code - 0x10) + "_WRITE";
        if (code >= 0x020 && code <= 0x02F) return "VMEXIT_DR" + (code - 0x20) + "_READ";
        if (code >= 0x030 && code <= 0x03F) return "VMEXIT_DR" + (code - 0x30) + "_WRITE";
        if (code >= 0x040 && code <= 0x05F) return "VMEXIT_EXCP" + (code - 0x40);
        if (code >= 0x090 && code <= 0x09F) return "VMEXIT_CR" + (code - 0x90) + "_WRITE_TRAP";
        return switch ((int) code) {
            case 0x060 -> "VMEXIT_INTR";
            case 0x061 -> "VMEXIT_NMI";
            case 0x062 -> "VMEXIT_SMI";
            case 0x063 -> "VMEXIT_INIT";
            case 0x064 -> "VMEXIT_VINTR";
            case 0x065 -> "VMEXIT_CR0_SEL_WRITE";
            case 0x066 -> "VMEXIT_IDTR_READ";
            case 0x067 -> "VMEXIT_GDTR_READ";
            case 0x068 -> "VMEXIT_LDTR_READ";
            case 0x069 -> "VMEXIT_TR_READ";
            case 0x06A -> "VMEXIT_IDTR_WRITE";
            case 0x06B -> "VMEXIT_GDTR_WRITE";
            case 0x06C -> "VMEXIT_LDTR_WRITE";
            case 0x06D -> "VMEXIT_TR_WRITE";
            case 0x06E -> "VMEXIT_RDTSC";
            case 0x06F -> "VMEXIT_RDPMC";
            case 0x070 -> "VMEXIT_PUSHF";
            case 0x071 -> "VMEXIT_POPF";
            case 0x072 -> "VMEXIT_CPUID";
            case 0x073 -> "VMEXIT_RSM";
            case 0x074 -> "VMEXIT_IRET";
            case 0x075 -> "VMEXIT_SWINT";
            case 0x076 -> "VMEXIT_INVD";
            case 0x077 -> "VMEXIT_PAUSE";
            case 0x078 -> "VMEXIT_HLT";
            case 0x079 -> "VMEXIT_INVLPG";
            case 0x07A -> "VMEXIT_INVLPGA";
            case 0x07B -> "VMEXIT_IOIO";
            case 0x07C -> "VMEXIT_MSR";
            case 0x07D -> "VMEXIT_TASK_SWITCH";
            case 0x07E -> "VMEXIT_FERR_FREEZE";
            case 0x07F -> "VMEXIT_SHUTDOWN";
            case 0x080 -> "VMEXIT_VMRUN";
            case 0x081 -> "VMEXIT_VMMCALL";
            case 0x082 -> "VMEXIT_VMLOAD";
            case 0x083 -> "VMEXIT_VMSAVE";
            case 0x084 -> "VMEXIT_STGI";
            case 0x085 -> "VMEXIT_CLGI";
            case 0x086 -> "VMEXIT_SKINIT";
            case 0x087 -> "VMEXIT_RDTSCP";
            case 0x088 -> "VMEXIT_ICEBP";
            case 0x089 -> "VMEXIT_WBINVD";
            case 0x08A -> "VMEXIT_MONITOR";
            case 0x08B -> "VMEXIT_MWAIT";
            case 0x08C -> "VMEXIT_MWAIT_CONDITIONAL";
            case 0x08D -> "VMEXIT_XSETBV";
            case 0x08E -> "VMEXIT_RDPRU";
            case 0x08F -> "VMEXIT_EFER_WRITE_TRAP";
            case 0x0A0 -> "VMEXIT_INVLPGB";
            case 0x0A1 -> "VMEXIT_INVLPGB_ILLEGAL";
            case 0x0A2 -> "VMEXIT_INVPCID";
            case 0x0A3 -> "VMEXIT_MCOMMIT";
            case 0x0A4 -> "VMEXIT_TLBSYNC";
            case 0x400 -> "VMEXIT_NPF";
            case 0x401 -> "VMEXIT_AVIC_INCOMPLETE_IPI";
            case 0x402 -> "VMEXIT_AVIC_NOACCEL";
            case 0x403 -> "VMEXIT_VMGEXIT";
            case -1 -> "VMEXIT_INVALID";
            case -2 -> "VMEXIT_BUSY";
            case -3 -> "VMEXIT_IDLE_REQUIRED";
            default -> "unknown SVM exit code";
        };
    }

    private static String meaning(long code) {
        if (code == VMEXIT_INVALID)
            return "VMRUN refused the guest state in the VMCB. The APM's consistency checks (vol. 2, 15.5.1) fail when "
                    + "EFER.SVME is 0; CR0.CD is 0 with CR0.NW 1; CR0[63:32], CR3, CR4, DR6, DR7 or EFER have reserved "
                    + "bits set; EFER.LME and CR0.PG are set with CR4.PAE or CR0.PE clear; EFER.LME, CR0.PG, CR4.PAE, "
                    + "CS.L and CS.D are all set; the VMRUN intercept is clear; the ASID is 0; or the event injection "
                    + "field is illegal. Check the vCPU's special registers (CR0, CR4, EFER, CS) in this report";
        if (code == VMEXIT_BUSY) return "the SEV-SNP guest's VMSA was in use by another VMRUN";
        if (code == VMEXIT_IDLE_REQUIRED) return "SEV-SNP requires the sibling thread to be idle for this VMRUN";
        if (code >= 0x040 && code <= 0x05F) {
            int v = (int) (code - 0x40);
            return "exception " + (v < EXCEPTIONS.length ? EXCEPTIONS[v] : "vector " + v) + " intercepted";
        }
        if (code >= 0x000 && code <= 0x03F) return "control or debug register access intercepted";
        if (code >= 0x090 && code <= 0x09F) return "control register write trapped after it completed";
        return switch ((int) code) {
            case 0x060 -> "physical interrupt";
            case 0x061 -> "physical NMI";
            case 0x062 -> "physical SMI";
            case 0x063 -> "physical INIT";
            case 0x064 -> "virtual interrupt window";
            case 0x07B -> "IN/OUT intercepted";
            case 0x07C -> "RDMSR/WRMSR intercepted";
            case 0x07F -> "shutdown (triple fault) intercepted";
            case 0x078 -> "HLT intercepted";
            case 0x072 -> "CPUID intercepted";
            case 0x400 -> "nested page fault: the guest-physical address is not mapped, or the access is not allowed";
            case 0x401, 0x402 -> "AVIC could not complete a virtual APIC access by itself";
            case 0x403 -> "SEV-ES guest requested a hypervisor service";
            default -> name(code).startsWith("unknown") ? "not an exit code the APM defines" : "instruction or event intercepted";
        };
    }
}
