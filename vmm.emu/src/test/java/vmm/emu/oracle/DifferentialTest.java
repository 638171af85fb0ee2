package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import vmm.emu.oracle.InstructionForms.Form;

/**
 * The comparison itself, with the host standing in for the CPU under test and one thing broken
 * on purpose: each break must be caught, with the bytes and the seed, except in what the SDM
 * leaves undefined.
 */
class DifferentialTest {
    private static NativeX86 host;

    @BeforeAll
    static void open() {
        String why = NativeX86.unavailableReason();
        assumeTrue(why == null, () -> "no native oracle: " + why);
        host = NativeX86.open();
    }

    @AfterAll
    static void close() {
        if (host != null) host.close();
    }

    private static Form form(String name) {
        return InstructionForms.of(Mode.BITS64).stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
    }

    /** The host, with {@code flip} XORed into the flags it reports. */
    private static CpuUnderTest hostFlipping(long flip) {
        return (mode, insn, in) -> {
            X86State out = host.run(insn, in);
            out.rflags ^= flip;
            return out;
        };
    }

    @Test
    void theHostAgreesWithItself() {
        Differential.Report r = Differential.run(List.of(form("add r/m, r (01 /r)")), host, hostFlipping(0), 7, 200,
                Set.of(), 5);
        assertThat(r.mismatches()).isZero();
        assertThat(r.cases()).isEqualTo(200);
    }

    @Test
    void aWrongCarryIsCaughtWithTheBytesAndTheSeed() {
        Form add = form("add r/m, r (01 /r)");
        Differential.Report r = Differential.run(List.of(add), host, hostFlipping(Flags.CF), 7, 50, Set.of(), 5);
        assertThat(r.mismatches()).isEqualTo(50);
        assertThat(r.details()).hasSize(5);
        assertThat(r.details().getFirst().toString()).contains("add r/m, r (01 /r) case 0 (seed "
                + Differential.formSeed(7, add) + ")").contains("bytes ").contains("flags CF differ");
        assertThat(r.summary()).isEqualTo("differential: 1 forms, 50 cases, 50 mismatches");
    }

    @Test
    void aWrongFlagTheSdmLeavesUndefinedIsNotAMismatch() {
        // AF after AND is undefined; after ADD it is not
        Differential.Report and = Differential.run(List.of(form("and r/m, r (21 /r)")), host, hostFlipping(Flags.AF), 7,
                100, Set.of(), 5);
        assertThat(and.mismatches()).isZero();
        Differential.Report add = Differential.run(List.of(form("add r/m, r (01 /r)")), host, hostFlipping(Flags.AF), 7,
                100, Set.of(), 5);
        assertThat(add.mismatches()).isEqualTo(100);
    }

    @Test
    void aKnownMismatchIsCountedApart() {
        Form add = form("add r/m, r (01 /r)");
        Differential.Report r = Differential.run(List.of(add), host, hostFlipping(Flags.ZF), 7, 20,
                Set.of(add.name()), 5);
        assertThat(r.mismatches()).isZero();
        assertThat(r.known()).containsEntry(add.name(), 20);
    }

    @Test
    void aWrongRegisterOrByteOfMemoryIsCaught() {
        CpuUnderTest wrongRdi = (mode, insn, in) -> {
            X86State out = host.run(insn, in);
            out.gpr[X86State.RDI] ^= 1;
            return out;
        };
        assertThat(Differential.run(List.of(form("mov r/m, r (89 /r)")), host, wrongRdi, 7, 20, Set.of(), 1)
                .details().getFirst().what()).startsWith("rdi expected");
        CpuUnderTest wrongByte = (mode, insn, in) -> {
            X86State out = host.run(insn, in);
            out.scratch[100] ^= 1;
            return out;
        };
        assertThat(Differential.run(List.of(form("mov r/m, r (89 /r)")), host, wrongByte, 7, 20, Set.of(), 1)
                .details().getFirst().what()).startsWith("scratch+100:");
    }
}
