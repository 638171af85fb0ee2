package vmm.svm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import vmm.kvm.fixtures.Fixtures;

/** Entry failures and exit codes read the way the AMD APM names them. */
class SvmExitCodesTest {
    private final SvmVendor vendor = new SvmVendor(Fixtures.host("amd-epyc-7742"));

    @Test
    void vmexitInvalidNamesTheConsistencyChecksToLookAt() {
        // KVM passes the 64-bit EXITCODE through; VMEXIT_INVALID is -1.
        String s = vendor.explainEntryFailure(0xFFFF_FFFF_FFFF_FFFFL);

        assertThat(s).startsWith("VMEXIT_INVALID (0xffffffffffffffff)").contains("EFER.SVME", "CR0", "ASID");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            0x078|VMEXIT_HLT (0x78): HLT intercepted
            0x07b|VMEXIT_IOIO (0x7b): IN/OUT intercepted
            0x07f|VMEXIT_SHUTDOWN (0x7f): shutdown (triple fault) intercepted
            0x04e|VMEXIT_EXCP14 (0x4e): exception #PF page fault intercepted
            0x046|VMEXIT_EXCP6 (0x46): exception #UD invalid opcode intercepted
            0x013|VMEXIT_CR3_WRITE (0x13): control or debug register access intercepted
            0x400|VMEXIT_NPF (0x400): nested page fault: the guest-physical address is not mapped, or the access is not allowed
            0x402|VMEXIT_AVIC_NOACCEL (0x402): AVIC could not complete a virtual APIC access by itself
            0x123|unknown SVM exit code (0x123): not an exit code the APM defines
            """)
    void exitCodesAreNamedAsInTheApm(String code, String expected) {
        assertThat(SvmExitCodes.describe(Long.decode(code))).isEqualTo(expected);
    }

    @Test
    void snpBusyIsMinusTwo() {
        assertThat(vendor.explainEntryFailure(-2L)).startsWith("VMEXIT_BUSY");
    }
}
