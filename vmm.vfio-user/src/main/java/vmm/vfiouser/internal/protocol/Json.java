package vmm.vfiouser.internal.protocol;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The little JSON the VERSION message carries: a strict parser with a
 * length and depth bound (objects become maps, integers longs, the rest
 * strings, booleans, lists or null) and a writer for flat objects. Pure.
 */
public final class Json {
    /** Longest version data accepted. */
    public static final int MAX_LENGTH = 4096;
    private static final int MAX_DEPTH = 8;

    private final String s;
    private int at;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value filling the whole text. @throws ProtocolException (EINVAL) naming what is wrong */
    public static Object parse(String text) throws ProtocolException {
        if (text.length() > MAX_LENGTH) throw ProtocolException.invalid("version data of " + text.length() + " characters exceeds " + MAX_LENGTH);
        Json j = new Json(text);
        Object v = j.value(0);
        j.space();
        if (j.at != text.length()) throw j.error("trailing characters");
        return v;
    }

    private Object value(int depth) throws ProtocolException {
        if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
        space();
        if (at >= s.length()) throw error("value expected");
        char c = s.charAt(at);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> number();
        };
    }

    private Map<String, Object> object(int depth) throws ProtocolException {
        Map<String, Object> m = new LinkedHashMap<>();
        at++;
        space();
        if (peek('}')) return m;
        while (true) {
            space();
            if (at >= s.length() || s.charAt(at) != '"') throw error("member name expected");
            String k = string();
            space();
            expect(':');
            m.put(k, value(depth + 1)); // a repeated name: the later wins, as in most parsers
            space();
            if (peek('}')) return m;
            expect(',');
        }
    }

    private List<Object> array(int depth) throws ProtocolException {
        List<Object> l = new ArrayList<>();
        at++;
        space();
        if (peek(']')) return l;
        while (true) {
            l.add(value(depth + 1));
            space();
            if (peek(']')) return l;
            expect(',');
        }
    }

    private String string() throws ProtocolException {
        StringBuilder b = new StringBuilder();
        at++;
        while (true) {
            if (at >= s.length()) throw error("unterminated string");
            char c = s.charAt(at++);
            if (c == '"') return b.toString();
            if (c < 0x20) throw error("control character in a string");
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (at >= s.length()) throw error("unterminated escape");
            char e = s.charAt(at++);
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (at + 4 > s.length()) throw error("short \\u escape");
                    String hex = s.substring(at, at + 4);
                    // parseInt alone would take a sign ("\\u-001"), which JSON does not.
                    if (!hex.chars().allMatch(h -> Character.digit(h, 16) >= 0)) throw error("bad \\u escape");
                    b.append((char) Integer.parseInt(hex, 16));
                    at += 4;
                }
                default -> throw error("bad escape \\" + e);
            }
        }
    }

    private Object literal(String word, Object v) throws ProtocolException {
        if (!s.startsWith(word, at)) throw error("unexpected character");
        at += word.length();
        return v;
    }

    private Object number() throws ProtocolException {
        int start = at;
        if (at < s.length() && s.charAt(at) == '-') at++;
        // ASCII digits only: Character.isDigit (and parseLong) would take other scripts' digits too.
        while (at < s.length() && ("0123456789.eE+-".indexOf(s.charAt(at)) >= 0)) at++;
        String n = s.substring(start, at);
        if (n.isEmpty() || n.equals("-")) throw error("unexpected character");
        try {
            return Long.parseLong(n);
        } catch (NumberFormatException e) {
            double d;
            try {
                d = Double.parseDouble(n);
            } catch (NumberFormatException e2) {
                throw error("bad number " + n);
            }
            // 1e999 parses as Infinity, which JSON cannot carry back.
            if (!Double.isFinite(d)) throw error("number " + n + " out of range");
            return d;
        }
    }

    private void space() {
        while (at < s.length() && " \t\r\n".indexOf(s.charAt(at)) >= 0) at++;
    }

    private boolean peek(char c) {
        if (at < s.length() && s.charAt(at) == c) {
            at++;
            return true;
        }
        return false;
    }

    private void expect(char c) throws ProtocolException {
        if (!peek(c)) throw error("'" + c + "' expected");
    }

    private ProtocolException error(String what) {
        return ProtocolException.invalid("version data is not valid JSON at character " + at + ": " + what);
    }

    /**
     * Writes {@code {"capabilities":{...}}} from numbers, booleans, strings,
     * null, lists and nested maps; what {@link #parse} reads back is equal.
     * Keys and strings are escaped as JSON requires, control characters too.
     */
    public static String write(Map<String, ?> object) {
        return value(new StringBuilder(), object).toString();
    }

    private static StringBuilder value(StringBuilder b, Object v) {
        if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                value(quote(b, String.valueOf(e.getKey())).append(':'), e.getValue());
            }
            return b.append('}');
        }
        if (v instanceof java.util.List<?> l) {
            b.append('[');
            for (int i = 0; i < l.size(); i++) value(i == 0 ? b : b.append(','), l.get(i));
            return b.append(']');
        }
        if (v instanceof String str) return quote(b, str);
        return b.append(v);
    }

    private static StringBuilder quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"');
    }
}
