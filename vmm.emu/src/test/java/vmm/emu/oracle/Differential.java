package vmm.emu.oracle;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import vmm.emu.oracle.CaseBuilder.Case;
import vmm.emu.oracle.InstructionForms.Form;

/**
 * Runs instruction forms on the host oracle and on a CPU under test and compares registers,
 * flags (less those the SDM leaves undefined for the case) and the scratch buffer. Each form's
 * cases come from their own generator, seeded from the run's seed and the form's name, so a
 * mismatch is reproduced from the seed, the form and the case number printed with it.
 */
public final class Differential {
    private static final HexFormat HEX = HexFormat.ofDelimiter(" ");

    /** One disagreement, with everything needed to reproduce and read it. */
    public record Mismatch(Form form, long seed, int caseNumber, Case c, X86State expected, X86State got, String what) {
        @Override
        public String toString() {
            return form.name() + (c.first() == null ? "" : " (first: " + c.first() + ")") + " case " + caseNumber
                    + " (seed " + seed + "): bytes " + HEX.formatHex(c.bytes())
                    + "\n  in:       " + c.in() + "\n  expected: " + expected + "\n  got:      " + got + "\n  " + what;
        }
    }

    /** The totals of a run; {@code known} counts mismatches in forms listed as known, not failures. */
    public record Report(int forms, long cases, int mismatches, List<Mismatch> details, Map<String, Integer> byForm,
            Map<String, Integer> known) {
        public String summary() {
            int knownCount = known.values().stream().mapToInt(Integer::intValue).sum();
            return "differential: " + forms + " forms, " + cases + " cases, " + mismatches + " mismatches"
                    + (known.isEmpty() ? "" : " (and " + knownCount + " in " + known.size() + " known-mismatch forms)");
        }
    }

    private Differential() {}

    /** The seed of one form's cases in a run with {@code seed}. */
    public static long formSeed(long seed, Form form) {
        return seed ^ (long) form.name().hashCode() << 17;
    }

    /**
     * Runs {@code cases} cases of every form; mismatches of forms named in {@code knownMismatches}
     * are counted apart. At most {@code keep} mismatches are kept with their details.
     */
    public static Report run(List<Form> forms, NativeX86 oracle, CpuUnderTest cpu, long seed, int cases,
            java.util.Set<String> knownMismatches, int keep) {
        List<Mismatch> mismatches = new ArrayList<>();
        Map<String, Integer> known = new java.util.TreeMap<>();
        Map<String, Integer> byForm = new java.util.TreeMap<>();
        long total = 0;
        int mismatchCount = 0;
        for (Form form : forms) {
            long s = formSeed(seed, form);
            SplittableRandom rnd = new SplittableRandom(s);
            for (int i = 0; i < cases; i++) {
                Case c = form.make(rnd, oracle.scratchAddress());
                X86State expected = form.mode() == Mode.BITS32 ? oracle.run32(c.bytes(), c.in())
                        : oracle.run(c.bytes(), c.in());
                X86State got;
                String what;
                try {
                    got = cpu.run(form.mode(), c.bytes(), c.in().copy());
                    what = compare(c, expected, got);
                } catch (CpuUnderTest.Fault f) {
                    got = null;
                    what = "the CPU raised " + f.getMessage();
                }
                total++;
                if (what == null) continue;
                boolean firstKnown = c.first() != null && knownMismatches.contains(c.first());
                if (knownMismatches.contains(form.name()) || firstKnown) {
                    // a form of two whose first is a known mismatch counts against that form
                    known.merge(knownMismatches.contains(form.name()) ? form.name() : c.first(), 1, Integer::sum);
                } else {
                    mismatchCount++;
                    byForm.merge(form.name(), 1, Integer::sum);
                    if (mismatches.size() < keep) mismatches.add(new Mismatch(form, s, i, c, expected, got, what));
                }
            }
        }
        return new Report(forms.size(), total, mismatchCount, mismatches, byForm, known);
    }

    /**
     * What differs between the oracle's state and the CPU's after a case, or null when nothing
     * does: every register but RSP and the case's undefined ones, the compared flags less the
     * case's undefined ones, every scratch byte.
     */
    public static String compare(Case c, X86State expected, X86State got) {
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < 16; r++) {
            if (r == X86State.RSP || (c.undefinedRegs() & 1 << r) != 0) continue;
            if (expected.gpr[r] != got.gpr[r]) {
                b.append(X86State.NAMES[r]).append(" expected ").append(Long.toHexString(expected.gpr[r]))
                        .append(" got ").append(Long.toHexString(got.gpr[r])).append("; ");
            }
        }
        long mask = Flags.COMPARED & ~c.undefinedFlags();
        long diff = (expected.rflags ^ got.rflags) & mask;
        if (diff != 0) {
            b.append("flags ").append(Flags.names(diff)).append(" differ (expected ")
                    .append(Flags.names(expected.rflags & mask)).append(", got ").append(Flags.names(got.rflags & mask))
                    .append("; undefined ").append(Flags.names(c.undefinedFlags())).append("); ");
        }
        String memory = X86State.scratchDiff(expected, got);
        if (memory != null) b.append(memory);
        return b.isEmpty() ? null : b.toString();
    }
}
