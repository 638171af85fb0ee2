package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import vmm.emu.oracle.CaseBuilder.Case;
import vmm.emu.oracle.InstructionForms.Form;
import vmm.emu.oracle.Objdump.Decoded;

/**
 * The case generators checked against the two oracles: binutils must read every generated
 * instruction as the form it claims, whole; the host must run every case (a fault would kill the
 * JVM) and give the same state twice.
 */
class InstructionFormsTest {
    private static final int CASES = 60;
    private static final long SEED = 0x16_05L;

    @Test
    void everyGeneratedInstructionIsTheFormObjdumpReads() {
        String why = Objdump.unavailableReason();
        assumeTrue(why == null, () -> "no decoder oracle: " + why);
        List<Form> forms = InstructionForms.all();
        List<Case> cases = new ArrayList<>();
        for (Form form : forms) {
            if (form.mnemonic() == null) continue;           // two instructions: each is a form of its own
            SplittableRandom rnd = new SplittableRandom(Differential.formSeed(SEED, form));
            for (int i = 0; i < CASES; i++) cases.add(form.make(rnd, 0x10_1000L));
        }
        List<Case> cases64 = cases.stream().filter(c -> c.form().mode() == Mode.BITS64).toList();
        List<Case> cases32 = cases.stream().filter(c -> c.form().mode() == Mode.BITS32).toList();
        List<Decoded> decoded = new ArrayList<>(
                Objdump.decode(Mode.BITS64, cases64.stream().map(Case::bytes).toList()));
        decoded.addAll(Objdump.decode(Mode.BITS32, cases32.stream().map(Case::bytes).toList()));
        cases = new ArrayList<>(cases64);
        cases.addAll(cases32);
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            Decoded d = decoded.get(i);
            if (d.bad() || d.length() != c.bytes().length || !d.mnemonic().matches(c.form().mnemonic())) {
                wrong.add(c.form() + ": " + HexFormat.of().formatHex(c.bytes()) + " is " + d);
            }
        }
        assertThat(wrong).as("seed %d", SEED).isEmpty();
        System.out.printf("instruction forms: %d encodings read back by objdump%n", cases.size());
    }

    @Test
    void everyCaseRunsNativelyAndTheSameTwice() {
        String why = NativeX86.unavailableReason();
        assumeTrue(why == null, () -> "no native oracle: " + why);
        try (NativeX86 cpu = NativeX86.open()) {
            List<Form> forms = InstructionForms.all().stream()
                    .filter(f -> f.mode() == Mode.BITS64 || cpu.unavailable32Reason() == null).toList();
            long cases = 0;
            for (Form form : forms) {
                SplittableRandom rnd = new SplittableRandom(Differential.formSeed(SEED, form));
                for (int i = 0; i < CASES; i++) {
                    Case c = form.make(rnd, cpu.scratchAddress());
                    boolean legacy = form.mode() == Mode.BITS32;
                    X86State a = legacy ? cpu.run32(c.bytes(), c.in()) : cpu.run(c.bytes(), c.in());
                    X86State b = legacy ? cpu.run32(c.bytes(), c.in()) : cpu.run(c.bytes(), c.in());
                    assertThat(Differential.compare(c, a, b)).as("%s case %d", form, i).isNull();
                    cases++;
                }
            }
            assertThat(cases).isEqualTo((long) forms.size() * CASES);
        }
    }

    @Test
    void theUndefinedFlagsOfShiftsFollowTheMaskedCount() {
        assertThat(InstructionForms.shiftUndefined(4, 32, 0)).isZero();                 // shl by 0: flags kept
        assertThat(InstructionForms.shiftUndefined(4, 32, 32)).isZero();                // masked to 0
        assertThat(InstructionForms.shiftUndefined(4, 32, 1)).isEqualTo(Flags.AF);
        assertThat(InstructionForms.shiftUndefined(5, 8, 9)).isEqualTo(Flags.AF | Flags.OF | Flags.CF);
        assertThat(InstructionForms.shiftUndefined(7, 8, 9)).isEqualTo(Flags.AF | Flags.OF); // SAR's CF is the sign
        assertThat(InstructionForms.shiftUndefined(0, 64, 33)).isEqualTo(Flags.OF);      // rol: only OF
        assertThat(InstructionForms.shiftUndefined(0, 64, 64)).isZero();
    }
}
