package vmm.vmx;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vmm.kvm.fixtures.Fixtures;

/** VM-entry failures read as the Intel SDM names them. */
class VmxExitReasonsTest {
    private final VmxVendor vendor = new VmxVendor(Fixtures.host("intel-xeon-gold-6252"));

    @Test
    void invalidGuestStateIsExitReason33WithTheEntryFailureBit() {
        String s = vendor.explainEntryFailure(0x8000_0021L);

        assertThat(s).startsWith("VM-entry failure, exit reason 33 (EXIT_REASON_INVALID_STATE: VM-entry failure due to invalid guest state)")
                .contains("unrestricted guest", "CR0");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            0x80000022|VM-entry failure, exit reason 34 (EXIT_REASON_MSR_LOAD_FAIL: VM-entry failure due to MSR loading): an entry in the VM-entry MSR-load area could not be loaded
            0x80000029|VM-entry failure, exit reason 41 (EXIT_REASON_MCE_DURING_VMENTRY: VM-entry failure due to machine-check event): a machine check occurred during VM entry
            7|VM-instruction error 7: VM entry with invalid control field(s)
            8|VM-instruction error 8: VM entry with invalid host-state field(s)
            26|VM-instruction error 26: VM entry with events blocked by MOV SS
            14|VM-instruction error 14: reserved VM-instruction error number
            """)
    void entryFailuresAndInstructionErrorsAreNamed(String reason, String expected) {
        assertThat(vendor.explainEntryFailure(Long.decode(reason))).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            2|EXIT_REASON_TRIPLE_FAULT: triple fault
            30|EXIT_REASON_IO_INSTRUCTION: I/O instruction
            48|EXIT_REASON_EPT_VIOLATION: EPT violation
            49|EXIT_REASON_EPT_MISCONFIG: EPT misconfiguration
            35|unknown basic exit reason
            200|unknown basic exit reason
            """)
    void basicExitReasonsAreNamedAsInAppendixC(int basic, String expected) {
        assertThat(VmxExitReasons.basicName(basic)).isEqualTo(expected);
    }
}
