package vmm.emu.oracle;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

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
                for (int i = 0; i < sequences.size(); i++) {
                    System.arraycopy(slot(sequences.get(i)), 0, all, SLOT * i, SLOT);
                }
                Files.write(file, all);
                return run(mode, file, sequences.size());
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Decoded> run(Mode mode, Path file, int slots) throws IOException {
        // objdump's default in 64-bit mode is AMD64 (a 66 prefix makes a near branch's operand 16 bits,
        // where Intel 64 ignores it): the same as the model, whose CPUID vendor is AuthenticAMD (qemu64)
        String syntax = "intel";
        Process p = new ProcessBuilder("objdump", "-D", "-z", "-w", "--insn-width=16", "-M", syntax,
                "-b", "binary", "-m", mode.objdumpMachine, file.toString()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        List<Decoded> result;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8),
                1 << 16)) {
            result = parse(out.lines().iterator(), slots);
            while (out.read() >= 0) {
                // drain what is left, so objdump can exit
            }
        } catch (IOException e) {
            p.destroyForcibly();
            throw e;
        }
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("objdump did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (p.exitValue() != 0) throw new IOException("objdump exited " + p.exitValue());
        return result;
    }

    /**
     * Reads objdump's listing: per slot, the lines from the slot's start up to its first
     * instruction. A listing line is {@code "  addr:\tbytes \tinstruction"}.
     */
    static List<Decoded> parse(Iterator<String> lines, int slots) throws IOException {
        List<Decoded> result = new ArrayList<>(slots);
        int pendingLength = 0;
        StringBuilder pendingText = new StringBuilder();
        long expect = 0;              // the address the next line of the current slot must start at
        while (lines.hasNext() && result.size() < slots) {
            String line = lines.next();
            int colon = line.indexOf(':');
            if (colon < 0 || colon + 1 >= line.length() || line.charAt(colon + 1) != '\t') continue;
            long address;
            try {
                address = Long.parseLong(line.substring(0, colon).trim(), 16);
            } catch (NumberFormatException e) {
                continue;             // a header line
            }
            long slotStart = (long) SLOT * result.size();
            if (address < slotStart) continue;                           // the rest of the previous slot
            if (pendingLength == 0 && address != slotStart) {
                throw new IOException("objdump lost the slot boundary at 0x" + Long.toHexString(slotStart));
            }
            if (pendingLength > 0 && address != expect) throw new IOException("objdump listing has a gap at " + line);
            int tab = line.indexOf('\t', colon + 2);
            if (tab < 0) throw new IOException("objdump line without an instruction: " + line);
            String bytes = line.substring(colon + 2, tab).trim();
            int length = (bytes.length() + 1) / 3;
            String text = line.substring(tab + 1).trim();
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
        if (result.size() != slots) {
            throw new IOException("objdump decoded " + result.size() + " of " + slots + " slots");
        }
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
