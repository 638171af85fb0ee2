package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import vmm.emu.internal.cpu.CpuFault;
import vmm.emu.internal.cpu.Decoder;
import vmm.emu.oracle.Objdump.Decoded;

/**
 * The software CPU's decoder against binutils, on sequences from {@link EncodingGrammar} in each
 * mode ({@value #DEFAULT_SEQUENCES} per mode in the suite, {@code -Dvmm.emu.diff.sequences=N} for
 * more, {@code -Dvmm.emu.diff.seed=S} for another seed). Per sequence:
 * <ul>
 * <li>objdump says "(bad)": the CPU must raise #UD when it runs it (#GP(0) is accepted too when
 *     the bytes objdump took reach 15: the instruction is too long);</li>
 * <li>objdump decodes it and the CPU raises #UD: an instruction the model lacks (or one that is
 *     invalid in a way objdump does not check, such as LOCK on a register form); counted and
 *     listed by opcode; a length that differs is counted too, not failed, since a #UD
 *     instruction never completes;</li>
 * <li>otherwise the decoder's length must be objdump's.</li>
 * </ul>
 * Sequences where objdump is not the hardware's reading ({@link #OBJDUMP_IS_NOT_HARDWARE}) are
 * skipped; those the CPU is known to get wrong ({@link #KNOWN_CPU_MISMATCHES}) are counted apart.
 */
class DecoderDifferentialTest {
    static final int DEFAULT_SEQUENCES = 3000;
    static final long DEFAULT_SEED = 0x16_0005L;

    /** A class of sequences, by what follows the prefixes: {@code op} is the first opcode byte's index. */
    record Rule(String why, Matcher matcher) {}

    interface Matcher {
        boolean matches(Mode mode, byte[] slot, int op);
    }

    /** Where binutils' answer is not what the hardware does: the sequences are skipped, not compared. */
    static final List<Rule> OBJDUMP_IS_NOT_HARDWARE = List.of(
            new Rule("d6 (SALC): undocumented, Intel runs it outside 64-bit mode; objdump says (bad)",
                    (mode, s, op) -> mode != Mode.BITS64 && u(s, op) == 0xD6),
            new Rule("9b (FWAIT): objdump joins it to the x87 instruction after it; hardware runs it alone",
                    (mode, s, op) -> u(s, op) == 0x9B),
            new Rule("0f 18-1f: hint NOPs; objdump reads MPX and prefetch encodings there, (bad) in forms that"
                    + " hardware without MPX runs as NOPs", (mode, s, op) -> u(s, op) == 0x0F && u(s, op + 1) >= 0x18
                    && u(s, op + 1) <= 0x1F),
            new Rule("0f 0d with mod 11: the prefetch group's register forms, (bad) to objdump, hint space on Intel",
                    (mode, s, op) -> u(s, op) == 0x0F && u(s, op + 1) == 0x0D && u(s, op + 2) >> 6 == 3),
            new Rule("0f ae /5../7 with mod 11 and rm != 0: LFENCE, MFENCE, SFENCE ignore rm; objdump takes rm 0 only",
                    (mode, s, op) -> u(s, op) == 0x0F && u(s, op + 1) == 0xAE && u(s, op + 2) >> 6 == 3
                    && (u(s, op + 2) >> 3 & 7) >= 5 && (u(s, op + 2) & 7) != 0),
            new Rule("66 or f2 before 0f 09 (WBINVD) or 0f bc/bd (BSF/BSR): objdump takes it for a mandatory prefix"
                    + " of a form that does not exist; the SDM gives these prefixes no meaning there",
                    (mode, s, op) -> u(s, op) == 0x0F && (u(s, op + 1) == 0x09 || u(s, op + 1) == 0xBC
                    || u(s, op + 1) == 0xBD) && hasPrefix(s, op, 0x66, 0xF2)));

    /**
     * Where the software CPU disagrees with objdump and the hardware, to be fixed in the CPU: counted
     * apart, not failed. A rule that matched sequences but no mismatch fails the test: delete it.
     */
    static final List<Rule> KNOWN_CPU_MISMATCHES = List.of();

    @Test
    void everyLengthIsObjdumpsAndEveryBadSequenceRaisesUd() {
        String why = Objdump.unavailableReason();
        assumeTrue(why == null, () -> "no decoder oracle: " + why);
        int count = Integer.getInteger("vmm.emu.diff.sequences", DEFAULT_SEQUENCES);
        long seed = Long.getLong("vmm.emu.diff.seed", DEFAULT_SEED);
        List<String> mismatches = new ArrayList<>();
        Map<String, Integer> knownMatched = new TreeMap<>();
        long compared = 0, badChecked = 0, total = 0, skipped = 0;
        Logger cpuLog = Logger.getLogger("vmm.emu.cpu");     // "not in the model" once per opcode: hundreds here
        Level level = cpuLog.getLevel();
        cpuLog.setLevel(Level.SEVERE);
        try (EmuCpu emu = new EmuCpu(0x10_1000L)) {
            for (Mode mode : Mode.values()) {
                long modeSeed = seed + mode.ordinal();
                List<byte[]> sequences = new EncodingGrammar(mode, new SplittableRandom(modeSeed)).sequences(count);
                List<Decoded> decoded = Objdump.decode(mode, sequences);
                Map<String, Integer> lacking = new TreeMap<>();
                Map<String, Integer> udLengths = new TreeMap<>();
                int modeCompared = 0, modeBad = 0;
                for (int i = 0; i < sequences.size(); i++) {
                    byte[] slot = Objdump.slot(sequences.get(i));
                    int op = opcodeIndex(mode, slot);
                    if (OBJDUMP_IS_NOT_HARDWARE.stream().anyMatch(r -> r.matcher().matches(mode, slot, op))) {
                        skipped++;
                        continue;
                    }
                    Rule known = KNOWN_CPU_MISMATCHES.stream().filter(r -> r.matcher().matches(mode, slot, op))
                            .findFirst().orElse(null);
                    Decoded d = decoded.get(i);
                    int vector = emu.exceptionOf(mode, slot);
                    String where = mode + " sequence " + i + " (seed " + modeSeed + "): "
                            + HexFormat.ofDelimiter(" ").formatHex(sequences.get(i)) + ", objdump: " + d;
                    String wrong = null;
                    if (d.bad()) {
                        modeBad++;
                        boolean tooLong = d.length() >= Objdump.MAX_LENGTH;
                        if (vector != CpuFault.UD && !(tooLong && vector == CpuFault.GP)) {
                            wrong = where + "; the CPU " + (vector < 0 ? "ran it" : "raised " + vector);
                        }
                    } else if (vector == CpuFault.UD) {
                        lacking.merge(opcode(mode, slot) + " " + d.mnemonic(), 1, Integer::sum);
                        // not observable (a #UD instruction never completes), so counted, not failed
                        if (EmuCpu.decodedLength(mode, slot) != d.length()) {
                            udLengths.merge(opcode(mode, slot) + " " + d.mnemonic(), 1, Integer::sum);
                        }
                    } else {
                        modeCompared++;
                        int length = EmuCpu.decodedLength(mode, slot);
                        if (length != d.length()) wrong = where + "; the CPU's length " + length;
                    }
                    if (known != null) {
                        knownMatched.merge(known.why(), wrong == null ? 0 : 1, Integer::sum);
                    } else if (wrong != null) {
                        mismatches.add(wrong);
                    }
                }
                compared += modeCompared;
                badChecked += modeBad;
                total += sequences.size();
                System.out.printf("decoder: %s, %d sequences: %d lengths compared, %d (bad) checked for #UD, %d #UD"
                        + " where objdump decodes (%s)%n", mode, sequences.size(), modeCompared, modeBad,
                        lacking.values().stream().mapToInt(Integer::intValue).sum(), top(lacking));
                System.out.printf("decoder: %s, of those %d with another length than objdump's (%s)%n", mode,
                        udLengths.values().stream().mapToInt(Integer::intValue).sum(), top(udLengths));
            }
        } finally {
            cpuLog.setLevel(level);
        }
        System.out.printf("decoder differential: %d sequences, %d lengths compared, %d (bad) checked, %d skipped"
                + " (objdump is not the hardware), %d mismatches, %d known%n", total, compared, badChecked, skipped,
                mismatches.size(), knownMatched.values().stream().mapToInt(Integer::intValue).sum());
        knownMatched.forEach((rule, n) -> System.out.println("known CPU mismatch, " + n + " sequences: " + rule));
        mismatches.stream().limit(Integer.getInteger("vmm.emu.diff.show", 20))
                .forEach(m -> System.out.println("mismatch: " + m));
        assertThat(mismatches).as("seed %d", seed).isEmpty();
        assertThat(knownMatched.entrySet().stream().filter(e -> e.getValue() == 0).map(Map.Entry::getKey))
                .as("known mismatches that no longer happen: delete them from KNOWN_CPU_MISMATCHES").isEmpty();
    }

    private static int u(byte[] slot, int i) {
        return i < slot.length ? slot[i] & 0xFF : 0x90;
    }

    /** Where the opcode starts: after the legacy prefixes and, in 64-bit mode, REX bytes. */
    static int opcodeIndex(Mode mode, byte[] slot) {
        int i = 0;
        while (i < slot.length) {
            int b = slot[i] & 0xFF;
            boolean legacy = false;
            for (int p : EncodingGrammar.LEGACY) legacy |= p == b;
            if (!legacy && !(mode == Mode.BITS64 && (b & 0xF0) == 0x40)) break;
            i++;
        }
        return i;
    }

    private static boolean hasPrefix(byte[] slot, int op, int... prefixes) {
        for (int i = 0; i < op; i++) {
            for (int p : prefixes) {
                if ((slot[i] & 0xFF) == p) return true;
            }
        }
        return false;
    }

    /** The opcode the CPU's decoder reads, e.g. "0f a2", or "?" when it cannot decode. */
    private static String opcode(Mode mode, byte[] slot) {
        try {
            int op = Decoder.decode(i -> slot[i] & 0xFF, mode.bits).op;
            return op >= 0x100 ? String.format("0f %02x", op & 0xFF) : String.format("%02x", op);
        } catch (CpuFault f) {
            return "?";
        }
    }

    private static String top(Map<String, Integer> counts) {
        return counts.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(8)
                .map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.joining(", "));
    }
}
