package vmm.launcher.internal;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON reader (RFC 8259) for the launcher's configuration file:
 * objects become {@link Obj} (insertion-ordered, remembering where each key
 * stood), arrays {@link List}, strings {@link String}, numbers
 * {@link BigDecimal}, {@code true}/{@code false} {@link Boolean}, and
 * {@code null} {@link #NULL}. Anything else (comments, trailing commas,
 * single quotes, duplicate keys, control characters in strings, text after
 * the value, nesting deeper than {@value #MAX_DEPTH}) is an error naming the
 * line and column. No JSON library is on the build path, and the file is
 * small: a hand-written reader keeps the runtime at the bundles it has.
 */
final class Json {
    /** The JSON value {@code null} (distinct from a missing key). */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };
    static final int MAX_DEPTH = 64;

    /** A JSON object: its members in file order, and the line and column of each key. */
    static final class Obj extends LinkedHashMap<String, Object> {
        private static final long serialVersionUID = 1L;
        final transient Map<String, String> where = new HashMap<>();
        String self = "1:1";

        /** {@code "LINE:COL"} of {@code key}, or of the object itself when the key is absent. */
        String at(String key) {
            return where.getOrDefault(key, self);
        }
    }

    /** A syntax error; the message starts with {@code LINE:COL:}. */
    static final class SyntaxException extends Exception {
        private static final long serialVersionUID = 1L;

        SyntaxException(String message) {
            super(message);
        }
    }

    private final String text;
    private int pos, line = 1, lineStart;

    private Json(String text) {
        this.text = text;
    }

    /** Parses one JSON value filling all of {@code text} (white space around it allowed). */
    static Object parse(String text) throws SyntaxException {
        Json j = new Json(text);
        j.space();
        Object v = j.value(0);
        j.space();
        if (j.pos < text.length()) throw j.error("unexpected " + j.describe() + " after the value");
        return v;
    }

    private String here() {
        return line + ":" + (pos - lineStart + 1);
    }

    private SyntaxException error(String problem) {
        return new SyntaxException(here() + ": " + problem);
    }

    private String describe() {
        if (pos >= text.length()) return "end of file";
        char c = text.charAt(pos);
        return c < 0x20 ? String.format("control character U+%04X", (int) c) : "'" + c + "'";
    }

    private void space() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == '\n') {
                line++;
                lineStart = pos + 1;
            } else if (c != ' ' && c != '\t' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private Object value(int depth) throws SyntaxException {
        if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH + " levels");
        if (pos >= text.length()) throw error("expected a value, found the end of file");
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", NULL);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) yield number();
                throw error("expected a value, found " + describe());
            }
        };
    }

    private Object literal(String word, Object v) throws SyntaxException {
        if (!text.startsWith(word, pos)) throw error("expected a value, found " + describe());
        pos += word.length();
        return v;
    }

    private Obj object(int depth) throws SyntaxException {
        Obj o = new Obj();
        o.self = here();
        pos++;
        space();
        if (peek() == '}') {
            pos++;
            return o;
        }
        while (true) {
            if (peek() != '"') throw error("expected a key in double quotes, found " + describe());
            String at = here();
            String key = string();
            if (o.containsKey(key)) throw new SyntaxException(at + ": key \"" + key + "\" appears twice in this object");
            space();
            if (peek() != ':') throw error("expected ':' after key \"" + key + "\", found " + describe());
            pos++;
            space();
            o.put(key, value(depth + 1));
            o.where.put(key, at);
            space();
            char c = peek();
            pos++;
            if (c == '}') return o;
            if (c != ',') {
                pos--;
                throw error("expected ',' or '}', found " + describe());
            }
            space();
        }
    }

    private List<Object> array(int depth) throws SyntaxException {
        List<Object> a = new ArrayList<>();
        pos++;
        space();
        if (peek() == ']') {
            pos++;
            return a;
        }
        while (true) {
            a.add(value(depth + 1));
            space();
            char c = peek();
            pos++;
            if (c == ']') return a;
            if (c != ',') {
                pos--;
                throw error("expected ',' or ']', found " + describe());
            }
            space();
        }
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private String string() throws SyntaxException {
        StringBuilder b = new StringBuilder();
        pos++; // the opening quote
        while (true) {
            if (pos >= text.length()) throw error("a string is not closed before the end of file");
            char c = text.charAt(pos);
            if (c == '"') {
                pos++;
                return b.toString();
            }
            if (c < 0x20) throw error(describe() + " inside a string (write it as an escape)");
            if (c != '\\') {
                b.append(c);
                pos++;
                continue;
            }
            pos++;
            char e = peek();
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (pos + 5 > text.length()) throw error("\\u needs four hex digits");
                    int v = 0;
                    for (int i = 1; i <= 4; i++) {
                        int d = Character.digit(text.charAt(pos + i), 16);
                        if (d < 0) throw error("\\u needs four hex digits");
                        v = v << 4 | d;
                    }
                    b.append((char) v);
                    pos += 4;
                }
                default -> throw error("unknown escape \\" + (pos < text.length() ? e : ""));
            }
            pos++;
        }
    }

    private BigDecimal number() throws SyntaxException {
        int start = pos;
        if (peek() == '-') pos++;
        if (peek() == '0') {
            pos++;
            if (Character.isDigit(peek())) throw error("a number has no leading zeros");
        } else if (Character.isDigit(peek())) {
            while (Character.isDigit(peek())) pos++;
        } else {
            throw error("expected a digit, found " + describe());
        }
        if (peek() == '.') {
            pos++;
            if (!Character.isDigit(peek())) throw error("expected a digit after '.', found " + describe());
            while (Character.isDigit(peek())) pos++;
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!Character.isDigit(peek())) throw error("expected a digit in the exponent, found " + describe());
            while (Character.isDigit(peek())) pos++;
        }
        try {
            return new BigDecimal(text.substring(start, pos));
        } catch (NumberFormatException e) {
            throw new SyntaxException(line + ":" + (start - lineStart + 1) + ": number " + text.substring(start, pos) + " is out of range");
        }
    }
}
