package vmm.vmx;

/**
 * VMX basic exit reasons (Intel SDM vol. 3C, appendix C) and VM-instruction
 * error numbers (vol. 3C, 31.4), named as there. KVM's
 * {@code KVM_EXIT_FAIL_ENTRY} on VMX carries one of two things: the full exit
 * reason, with {@link #VM_ENTRY_FAILURE} (bit 31) set, when the entry failed
 * on the guest state or MSR loading after the checks on controls and host
 * state passed; or, when VMLAUNCH/VMRESUME itself failed (VMfailValid), the
 * VM-instruction error number, which is small and has bit 31 clear.
 */
final class VmxExitReasons {
    /** Exit reason bit 31: the VM entry failed. */
    static final long VM_ENTRY_FAILURE = 1L << 31;
    static final int EXIT_REASON_TRIPLE_FAULT = 2, EXIT_REASON_INVALID_STATE = 33, EXIT_REASON_MSR_LOAD_FAIL = 34,
            EXIT_REASON_MCE_DURING_VMENTRY = 41;
    static final int VMXERR_ENTRY_INVALID_CONTROL_FIELD = 7, VMXERR_ENTRY_INVALID_HOST_STATE_FIELD = 8;

    private static final String[] BASIC = new String[76];

    static {
        String[][] names = {
                {"0", "EXCEPTION_NMI", "exception or NMI"}, {"1", "EXTERNAL_INTERRUPT", "external interrupt"},
                {"2", "TRIPLE_FAULT", "triple fault"}, {"3", "INIT_SIGNAL", "INIT signal"}, {"4", "SIPI_SIGNAL", "start-up IPI"},
                {"5", "IO_SMI", "I/O system-management interrupt"}, {"6", "OTHER_SMI", "other SMI"},
                {"7", "INTERRUPT_WINDOW", "interrupt window"}, {"8", "NMI_WINDOW", "NMI window"},
                {"9", "TASK_SWITCH", "task switch"}, {"10", "CPUID", "CPUID"}, {"11", "GETSEC", "GETSEC"},
                {"12", "HLT", "HLT"}, {"13", "INVD", "INVD"}, {"14", "INVLPG", "INVLPG"}, {"15", "RDPMC", "RDPMC"},
                {"16", "RDTSC", "RDTSC"}, {"17", "RSM", "RSM in SMM"}, {"18", "VMCALL", "VMCALL"},
                {"19", "VMCLEAR", "VMCLEAR"}, {"20", "VMLAUNCH", "VMLAUNCH"}, {"21", "VMPTRLD", "VMPTRLD"},
                {"22", "VMPTRST", "VMPTRST"}, {"23", "VMREAD", "VMREAD"}, {"24", "VMRESUME", "VMRESUME"},
                {"25", "VMWRITE", "VMWRITE"}, {"26", "VMOFF", "VMXOFF"}, {"27", "VMON", "VMXON"},
                {"28", "CR_ACCESS", "control-register access"}, {"29", "DR_ACCESS", "MOV DR"},
                {"30", "IO_INSTRUCTION", "I/O instruction"}, {"31", "MSR_READ", "RDMSR"}, {"32", "MSR_WRITE", "WRMSR"},
                {"33", "INVALID_STATE", "VM-entry failure due to invalid guest state"},
                {"34", "MSR_LOAD_FAIL", "VM-entry failure due to MSR loading"},
                {"36", "MWAIT_INSTRUCTION", "MWAIT"}, {"37", "MONITOR_TRAP_FLAG", "monitor trap flag"},
                {"39", "MONITOR_INSTRUCTION", "MONITOR"}, {"40", "PAUSE_INSTRUCTION", "PAUSE"},
                {"41", "MCE_DURING_VMENTRY", "VM-entry failure due to machine-check event"},
                {"43", "TPR_BELOW_THRESHOLD", "TPR below threshold"}, {"44", "APIC_ACCESS", "APIC access"},
                {"45", "EOI_INDUCED", "virtualized EOI"}, {"46", "GDTR_IDTR", "access to GDTR or IDTR"},
                {"47", "LDTR_TR", "access to LDTR or TR"}, {"48", "EPT_VIOLATION", "EPT violation"},
                {"49", "EPT_MISCONFIG", "EPT misconfiguration"}, {"50", "INVEPT", "INVEPT"}, {"51", "RDTSCP", "RDTSCP"},
                {"52", "PREEMPTION_TIMER", "VMX-preemption timer expired"}, {"53", "INVVPID", "INVVPID"},
                {"54", "WBINVD", "WBINVD or WBNOINVD"}, {"55", "XSETBV", "XSETBV"}, {"56", "APIC_WRITE", "APIC write"},
                {"57", "RDRAND", "RDRAND"}, {"58", "INVPCID", "INVPCID"}, {"59", "VMFUNC", "VMFUNC"},
                {"60", "ENCLS", "ENCLS"}, {"61", "RDSEED", "RDSEED"}, {"62", "PML_FULL", "page-modification log full"},
                {"63", "XSAVES", "XSAVES"}, {"64", "XRSTORS", "XRSTORS"}, {"66", "SPP", "sub-page permission violation"},
                {"67", "UMWAIT", "UMWAIT"}, {"68", "TPAUSE", "TPAUSE"}, {"69", "LOADIWKEY", "LOADIWKEY"},
                {"70", "ENCLV", "ENCLV"}, {"72", "ENQCMD_PASID", "ENQCMD PASID translation failure"},
                {"73", "ENQCMDS_PASID", "ENQCMDS PASID translation failure"}, {"74", "BUS_LOCK", "bus lock"},
                {"75", "NOTIFY", "instruction timeout (notify window)"}};
        for (String[] n : names) BASIC[Integer.parseInt(n[0])] = "EXIT_REASON_" + n[1] + ": " + n[2];
    }

    private VmxExitReasons() {}

    /** Reads a {@code KVM_EXIT_FAIL_ENTRY} hardware failure reason from a VMX host. */
    static String explainEntryFailure(long reason) {
        if ((reason & VM_ENTRY_FAILURE) != 0) {
            int basic = (int) (reason & 0xFFFF);
            return String.format("VM-entry failure, exit reason %d (%s)%s", basic, basicName(basic), entryFailureHint(basic));
        }
        if (reason >= 1 && reason <= 28) {
            return String.format("VM-instruction error %d: %s", reason, instructionError((int) reason));
        }
        return String.format("exit reason %d (%s)", reason & 0xFFFF, basicName((int) (reason & 0xFFFF)));
    }

    /** The SDM's name and meaning of basic exit reason {@code basic}. */
    static String basicName(int basic) {
        return basic >= 0 && basic < BASIC.length && BASIC[basic] != null ? BASIC[basic] : "unknown basic exit reason";
    }

    private static String entryFailureHint(int basic) {
        return switch (basic) {
            case EXIT_REASON_INVALID_STATE -> ": the guest-state area failed the checks of SDM vol. 3C 27.3.1 (CR0/CR4 "
                    + "fixed bits, segment access rights and limits, RIP and RFLAGS, activity and interruptibility state); "
                    + "without unrestricted guest, real mode or CR0.PG=0 is itself invalid. Check CR0, CR4, EFER and the "
                    + "segment registers in this report";
            case EXIT_REASON_MSR_LOAD_FAIL -> ": an entry in the VM-entry MSR-load area could not be loaded";
            case EXIT_REASON_MCE_DURING_VMENTRY -> ": a machine check occurred during VM entry";
            default -> "";
        };
    }

    /** VM-instruction error numbers (SDM vol. 3C, table 31-1). */
    static String instructionError(int n) {
        return switch (n) {
            case 1 -> "VMCALL executed in VMX root operation";
            case 2 -> "VMCLEAR with invalid physical address";
            case 3 -> "VMCLEAR with VMXON pointer";
            case 4 -> "VMLAUNCH with non-clear VMCS";
            case 5 -> "VMRESUME with non-launched VMCS";
            case 6 -> "VMRESUME after VMXOFF";
            case VMXERR_ENTRY_INVALID_CONTROL_FIELD -> "VM entry with invalid control field(s)";
            case VMXERR_ENTRY_INVALID_HOST_STATE_FIELD -> "VM entry with invalid host-state field(s)";
            case 9 -> "VMPTRLD with invalid physical address";
            case 10 -> "VMPTRLD with VMXON pointer";
            case 11 -> "VMPTRLD with incorrect VMCS revision identifier";
            case 12 -> "VMREAD/VMWRITE from/to unsupported VMCS component";
            case 13 -> "VMWRITE to read-only VMCS component";
            case 15 -> "VMXON executed in VMX root operation";
            case 16 -> "VM entry with invalid executive-VMCS pointer";
            case 17 -> "VM entry with non-launched executive VMCS";
            case 18 -> "VM entry with executive-VMCS pointer not VMXON pointer";
            case 19 -> "VMCALL with non-clear VMCS";
            case 20 -> "VMCALL with invalid VM-exit control fields";
            case 22 -> "VMCALL with incorrect MSEG revision identifier";
            case 23 -> "VMXOFF under dual-monitor treatment of SMIs and SMM";
            case 24 -> "VMCALL with invalid SMM-monitor features";
            case 25 -> "VM entry with invalid VM-execution control fields in executive VMCS";
            case 26 -> "VM entry with events blocked by MOV SS";
            case 28 -> "invalid operand to INVEPT/INVVPID";
            default -> "reserved VM-instruction error number";
        };
    }
}
