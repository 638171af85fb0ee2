package vmm.emu.oracle;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * binutils' disassembler as a decoder oracle: the length, mnemonic and operands objdump gives the
 * first instruction of each of many byte sequences, in one objdump run per batch.
 *
 * <p>Each sequence (at most 15 bytes) is laid in its own {@value #SLOT}-byte slot of one file and
 * the rest of the slot is filled with NOPs (0x90). Whatever objdump makes of the bytes after the
 * first instruction, an instruction is at most 15 bytes, so its decoding is back on the one-byte
 * NOPs before the next slot starts, and the first instruction of every slot is decoded from the
 * slot's first byte. The emulator decodes from the same slot bytes.
 *
 * <p>objdump prints a prefix that does not belong to the next instruction (a REX followed by
 * another prefix, a run of redundant prefixes) on a line of its own; hardware counts those bytes
 * into the instruction they precede, so such lines are merged into the next one. objdump says
 * "(bad)" for an opcode that does not exist and for an instruction longer than 15 bytes.
 */
public final class Objdump {
    /** Bytes per sequence in the file objdump reads. */
    public static final int SLOT = 32;
    public static final int MAX_LENGTH = 15;
    private static final byte NOP = (byte) 0x90;
    private static final Pattern LINE = Pattern.compile("^\\s*([0-9a-f]+):\\t([0-9a-f ]+?)\\s*\\t(.*)$");
    private static final Set<String> PREFIXES = Set.of("data16", "data32", "addr16", "addr32", "cs", "ds", "es",
            "ss", "fs", "gs", "lock", "rep", "repz", "repnz", "repe", "repne", "bnd", "notrack", "xacquire",
            "xrelease", "rex");

    /**
     * objdump's reading of one sequence's first instruction.
     *
     * @param length the bytes it takes (prefix-only lines merged in); for a bad one, what objdump skipped
     * @param bad    objdump printed "(bad)": no such instruction, or longer than 15 bytes
     * @param text   the instruction in Intel syntax as objdump prints it, prefixes included
     */
    public record Decoded(int length, boolean bad, String text) {
        /** The mnemonic: the first word that is not a prefix, or "" when there is none. */
        public String mnemonic() {
            for (String word : text.trim().split("\\s+")) {
                if (!isPrefix(word)) return word;
            }
            return "";
        }
    }

    private Objdump() {}

    /** Why there is no objdump to run, or null when {@code objdump} is on the PATH. */
    public static String unavailableReason() {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "objdump"))) return null;
            }
        }
        return "objdump (binutils) is not on the PATH";
    }

    /** The bytes of {@code sequence}'s slot: the sequence, then NOPs. */
    public static byte[] slot(byte[] sequence) {
        if (sequence.length == 0 || sequence.length > MAX_LENGTH) {
            throw new IllegalArgumentException("a sequence has 1 to 15 bytes, not " + sequence.length);
        }
        byte[] s = new byte[SLOT];
        Arrays.fill(s, NOP);
        System.arraycopy(sequence, 0, s, 0, sequence.length);
        return s;
    }

    /**
     * Decodes the first instruction of every sequence in {@code mode}, in one objdump run; throws
     * {@link UncheckedIOException} when objdump cannot be run or its output does not parse.
     */
    public static List<Decoded> decode(Mode mode, List<byte[]> sequences) {
        try {
            Path file = Files.createTempFile("vmm-emu-objdump", ".bin");
            try {
                byte[] all = new byte[SLOT * sequences.size()];
                for (int i = 0; i < sequences.size(); i++) System.arraycopy(slot(sequences.get(i)), 0, all, SLOT * i, SLOT);
                Files.write(file, all);
                return parse(run(mode, file), sequences.size());
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> run(Mode mode, Path file) throws IOException {
        Process p = new ProcessBuilder("objdump", "-D", "-z", "-w", "--insn-width=16", "-M", "intel",
                "-b", "binary", "-m", mode.objdumpMachine, file.toString()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("objdump did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) throw new IOException("objdump exited " + p.exitValue() + ": " + text.lines().findFirst().orElse(""));
        return text.lines().toList();
    }

    /** Reads objdump's listing: per slot, the lines from the slot's start up to the first instruction. */
    static List<Decoded> parse(List<String> lines, int slots) throws IOException {
        List<Decoded> result = new ArrayList<>(slots);
        int pendingLength = 0;
        StringBuilder pendingText = new StringBuilder();
        long expect = 0;              // the address the next line of the current slot must start at
        for (String line : lines) {
            Matcher m = LINE.matcher(line);
            if (!m.matches()) continue;
            long address = Long.parseLong(m.group(1), 16);
            int slot = result.size();
            if (slot == slots) break;
            if (address < (long) SLOT * slot) continue;                  // the rest of the previous slot
            if (pendingLength == 0 && address != (long) SLOT * slot) {
                throw new IOException("objdump lost the slot boundary at 0x" + Long.toHexString(SLOT * (long) slot));
            }
            if (pendingLength > 0 && address != expect) throw new IOException("objdump listing has a gap at 0x" + m.group(1));
            int length = m.group(2).trim().split(" ").length;
            String text = m.group(3).trim();
            if (!pendingText.isEmpty()) pendingText.append(' ');
            pendingText.append(text);
            pendingLength += length;
            expect = address + length;
            boolean bad = text.contains("(bad)");
            boolean prefixesOnly = !bad && onlyPrefixes(text);
            if (prefixesOnly && pendingLength < MAX_LENGTH) continue;   // they belong to the next line
            // 15 bytes of prefixes and then an opcode, or a merged line past 15 bytes: too long
            result.add(new Decoded(pendingLength, bad || prefixesOnly || pendingLength > MAX_LENGTH,
                    pendingText.toString()));
            pendingLength = 0;
            pendingText.setLength(0);
        }
        if (result.size() != slots) throw new IOException("objdump decoded " + result.size() + " of " + slots + " slots");
        return result;
    }

    private static boolean onlyPrefixes(String text) {
        for (String word : text.split("\\s+")) {
            if (!isPrefix(word)) return false;
        }
        return true;
    }

    private static boolean isPrefix(String word) {
        return PREFIXES.contains(word) || word.startsWith("rex.");
    }
}
