package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import vmm.emu.internal.jit.Jit;
import vmm.emu.oracle.InstructionForms.Form;

/**
 * The software CPU against the host CPU: every form of {@link InstructionForms} in 64-bit code and,
 * where the host runs 32-bit code, in 32-bit code; {@value #DEFAULT_CASES} random cases each in the
 * suite ({@code -Dvmm.emu.diff.cases=N} for more, {@code -Dvmm.emu.diff.seed=S} for another seed),
 * registers, flags and memory compared. The translated run takes the first {@value #DEFAULT_TRANSLATED_CASES}
 * of them ({@code -Dvmm.emu.diff.translatedCases=N}): most cases differ in an immediate, so each is a block of its
 * own that the translator compiles into a hidden class, about 0.4 ms apiece; at 500 that run was 77 s of a loaded
 * suite against 7.6 s interpreted.
 */
class CpuDifferentialTest {
    static final int DEFAULT_CASES = 500;
    static final int DEFAULT_TRANSLATED_CASES = 100;
    static final long DEFAULT_SEED = 0x16_0005L;

    /**
     * Forms where the software CPU is known to disagree with the host, by form name, with what is
     * wrong. Their mismatches are counted apart and do not fail the test; a form here that agrees
     * again fails it, so the table only shrinks.
     */
    static final Map<String, String> KNOWN_MISMATCHES = Map.of();

    @Test
    void everyFormAgreesWithTheHostCpu() {
        check(null);
    }

    /**
     * The same with the bytecode translator forced on (threshold 0: each block compiled at its first run), so
     * each form the translator handles runs as translated code and is checked against the host; the rest, and
     * the HLT after each case, stay interpreted.
     */
    @Test
    void everyFormAgreesWithTheHostCpuTranslated() {
        Jit jit = new Jit(0);
        check(jit);
        System.out.println("differential, translated: " + jit.compiledBlocks() + " blocks compiled, "
                + jit.failedBlocks() + " failed");
        assertThat(jit.compiledBlocks()).as("blocks the translator compiled").isPositive();
        assertThat(jit.failedBlocks()).as("blocks the translator failed on").isZero();
    }

    private static void check(Jit jit) {
        String why = NativeX86.unavailableReason();
        assumeTrue(why == null, () -> "no native oracle: " + why);
        int cases = jit == null ? Integer.getInteger("vmm.emu.diff.cases", DEFAULT_CASES)
                : Integer.getInteger("vmm.emu.diff.translatedCases", DEFAULT_TRANSLATED_CASES);
        long seed = Long.getLong("vmm.emu.diff.seed", DEFAULT_SEED);
        List<Form> all = InstructionForms.all();
        assertThat(all.stream().map(Form::name).collect(Collectors.toSet())).containsAll(KNOWN_MISMATCHES.keySet());
        Logger cpuLog = Logger.getLogger("vmm.emu.cpu");     // the known #UD cases would log their bytes
        Level level = cpuLog.getLevel();
        cpuLog.setLevel(Level.SEVERE);
        try (NativeX86 host = NativeX86.open(); EmuCpu emu = new EmuCpu(host.scratchAddress(), jit)) {
            List<Form> forms = all;
            if (host.unavailable32Reason() != null) {
                System.out.println("differential: 32-bit forms skipped: " + host.unavailable32Reason());
                forms = all.stream().filter(f -> f.mode() == Mode.BITS64).toList();
            }
            Differential.Report r = Differential.run(forms, host, emu, seed, cases, KNOWN_MISMATCHES.keySet(), 20);
            System.out.println(r.summary() + ", seed " + seed);
            r.byForm().forEach((form, n) -> System.out.println("mismatches in " + form + ": " + n + " of " + cases));
            r.known().forEach((form, n) -> System.out.println("known mismatch, " + n
                    + " cases (chains that start with it included) of " + form + ": " + KNOWN_MISMATCHES.get(form)));
            r.details().forEach(m -> System.out.println("mismatch: " + m));
            Set<String> fixed = KNOWN_MISMATCHES.keySet().stream().filter(n -> !r.known().containsKey(n))
                    .collect(Collectors.toSet());
            assertThat(fixed).as("known mismatches that now agree: remove them from KNOWN_MISMATCHES").isEmpty();
            assertThat(r.mismatches()).as("mismatches (seed %d); the first: %s", seed, r.details()).isZero();
        } finally {
            cpuLog.setLevel(level);
        }
    }
}
