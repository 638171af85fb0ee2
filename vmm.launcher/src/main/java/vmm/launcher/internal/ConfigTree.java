package vmm.launcher.internal;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

import vmm.launcher.internal.Arguments.UsageException;

/**
 * bhyve's configuration model (bhyve_config(5)): a tree of variables named
 * by dotted paths ({@code pci.0.4.0.path}), whose leaves hold strings. A value
 * may name other variables as {@code %(var)}, expanded when it is read
 * ({@code %%} is a literal {@code %}); some are read as booleans
 * (true/on/yes/1, false/off/no/0, any case). Each variable remembers where it
 * was set, so a bad value is one line naming the file and line or the flag.
 * Variables nothing reads are kept, as bhyve keeps them, for others to refer to.
 */
final class ConfigTree {
    /** A value as set, unexpanded, and where it came from ({@code FILE:LINE: VAR}, {@code -o VAR=VALUE}, a flag). */
    record Value(String raw, String origin) {}

    private final TreeMap<String, Value> vars = new TreeMap<>();
    private final Set<String> read = new HashSet<>();
    private final List<String> warnings = new ArrayList<>();

    /**
     * Sets {@code name} to {@code value}, replacing an earlier value.
     *
     * @throws UsageException when the name is malformed or a leaf would become a node (or a node a leaf)
     */
    void set(String name, String value, String origin) throws UsageException {
        String where = origin.isEmpty() ? name : origin;
        if (name.isEmpty() || name.startsWith(".") || name.endsWith(".") || name.contains("..")
                || !name.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != '=' && c != '%' && c != '(' && c != ')'))
            throw new UsageException(where + ": '" + name
                    + "' is not a variable name (dotted words, e.g. memory.size)");
        SortedMap<String, Value> below = vars.subMap(name + ".", name + "/");
        if (!below.isEmpty())
            throw new UsageException(where + ": " + name + " is a node holding " + below.firstKey()
                    + ", it cannot have a value");
        for (int dot = name.indexOf('.'); dot > 0; dot = name.indexOf('.', dot + 1)) {
            String parent = name.substring(0, dot);
            if (vars.containsKey(parent))
                throw new UsageException(where + ": " + parent + " has a value (" + parent + "="
                        + vars.get(parent).raw()
                        + "), so it cannot hold " + name);
        }
        vars.put(name, new Value(value, origin));
    }

    /** Removes {@code name} and, when it is a node, everything below it. */
    void remove(String name) {
        vars.remove(name);
        vars.subMap(name + ".", name + "/").clear();
    }

    boolean has(String name) {
        return vars.containsKey(name);
    }

    /**
     * Where {@code name} was set, for messages: {@code FILE:LINE: VAR}, {@code -o VAR=VALUE} or a flag; empty
     * when unset.
     */
    String origin(String name) {
        Value v = vars.get(name);
        return v == null ? "" : v.origin().isEmpty() ? name : v.origin();
    }

    /** The names directly or deeper below node {@code node}, relative to it ({@code device}, {@code path}). */
    List<String> below(String node) {
        List<String> names = new ArrayList<>();
        for (String k : vars.subMap(node + ".", node + "/").keySet()) names.add(k.substring(node.length() + 1));
        return names;
    }

    /** Every variable name, sorted. */
    Set<String> names() {
        return vars.keySet();
    }

    /** The variables no part of the VMM has read, sorted. */
    List<String> unread() {
        return vars.keySet().stream().filter(k -> !read.contains(k)).toList();
    }

    /**
     * Warnings the readers of this tree gave (a variable accepted but ignored), one line each, to print before
     * running.
     */
    List<String> warnings() {
        return warnings;
    }

    /** Marks {@code name} as read without reading it (a variable accepted as a no-op). */
    void markRead(String name) {
        read.add(name);
    }

    /**
     * The value of {@code name} with its {@code %(var)} references expanded, or null when it is not set.
     *
     * @throws UsageException naming the variable for a reference to an unset variable or one that refers back to itself
     */
    String get(String name) throws UsageException {
        if (!vars.containsKey(name)) return null;
        read.add(name);
        return expand(name, new ArrayList<>());
    }

    /** {@link #get} with a default. */
    String get(String name, String fallback) throws UsageException {
        String v = get(name);
        return v == null ? fallback : v;
    }

    /** A boolean variable in bhyve's spellings; {@code fallback} when it is unset. */
    boolean bool(String name, boolean fallback) throws UsageException {
        String v = get(name);
        if (v == null) return fallback;
        Boolean b = parseBool(v);
        if (b == null) throw new UsageException(origin(name) + ": " + name + "=" + v
                + " is not a boolean (true/false, yes/no, on/off, 1/0)");
        return b;
    }

    /** bhyve's boolean spellings, any case; null for anything else. */
    static Boolean parseBool(String v) {
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "true", "on", "yes", "1" -> Boolean.TRUE;
            case "false", "off", "no", "0" -> Boolean.FALSE;
            default -> null;
        };
    }

    private String expand(String name, List<String> chain) throws UsageException {
        if (chain.contains(name)) {
            String first = chain.getFirst();
            throw new UsageException(origin(first) + ": " + first + " refers to itself through %("
                    + String.join(") -> %(",
                    chain.subList(1, chain.size())) + (chain.size() > 1 ? ") -> %(" : "") + name + ")");
        }
        chain.add(name);
        String raw = vars.get(name).raw();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '%' || i + 1 == raw.length()) {
                out.append(c);
            } else if (raw.charAt(i + 1) == '%') {
                out.append('%');
                i++;
            } else if (raw.charAt(i + 1) == '(') {
                int close = raw.indexOf(')', i + 2);
                String start = chain.getFirst();
                if (close < 0) throw new UsageException(origin(start) + ": " + name + ": '%(' without ')' in " + raw);
                String ref = raw.substring(i + 2, close);
                if (!vars.containsKey(ref))
                    throw new UsageException(origin(start) + ": " + name + ": %(" + ref + ") names no variable");
                read.add(ref);
                out.append(expand(ref, chain));
                i = close;
            } else {
                out.append(c);
            }
        }
        chain.removeLast();
        return out.toString();
    }

    /**
     * {@code config.dump}: every variable as {@code var=value}, sorted, one a line, values as set (as bhyve
     * prints them).
     */
    String dump() {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, Value> e : vars.entrySet())
            b.append(e.getKey()).append('=').append(e.getValue().raw()).append('\n');
        return b.toString();
    }

    /**
     * Reads a bhyve_config(5) file into this tree: {@code var=value} lines, blank lines and lines whose first
     * non-blank character is {@code #} skipped; the value is everything after the first {@code =}.
     *
     * @throws UsageException naming the file and line of the first malformed line
     */
    void readFile(Path file) throws UsageException {
        String text = text(file);
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) continue;
            int eq = trimmed.indexOf('=');
            String at = file + ":" + (i + 1);
            if (eq < 0) throw new UsageException(at + ": '" + trimmed + "' is not var=value");
            String name = trimmed.substring(0, eq).strip();
            if (name.isEmpty()) throw new UsageException(at + ": '" + trimmed + "' has no variable name before '='");
            set(name, trimmed.substring(eq + 1), at + ": " + name);
        }
    }

    /** A configuration file's text: UTF-8, or one line saying why not. */
    static String text(Path file) throws UsageException {
        try {
            byte[] bytes = Files.readAllBytes(file);
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (NoSuchFileException e) {
            throw new UsageException("-k " + file + ": no such file");
        } catch (CharacterCodingException e) {
            throw new UsageException(file + ": not UTF-8 text");
        } catch (IOException e) {
            throw new UsageException("-k " + file + ": cannot read: " + e.getMessage());
        }
    }
}
