package vmm.core.device;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A device's saved state in a versioned, self-describing form: a type name,
 * a format version, and named fields whose values are longs, strings, byte
 * arrays, or nested states (and lists of those). The binary encoding carries
 * every field's name and type tag, so a reader can skip fields it does not
 * know and a human can dump any state without the device's code.
 *
 * <p>Immutable; build with {@link #builder(String, int)}.
 */
public final class DeviceState {
    private static final int MAGIC = 0x56535431; // "VST1"
    private static final byte T_LONG = 1, T_STRING = 2, T_BYTES = 3, T_STATE = 4, T_LIST = 5;

    private final String type;
    private final int version;
    private final Map<String, Object> fields;

    private DeviceState(String type, int version, Map<String, Object> fields) {
        this.type = type;
        this.version = version;
        this.fields = Collections.unmodifiableMap(fields);
    }

    public static Builder builder(String type, int version) {
        return new Builder(type, version);
    }

    public String type() { return type; }

    public int version() { return version; }

    /** Field names in the order they were written. */
    public java.util.Set<String> names() { return fields.keySet(); }

    public boolean has(String name) { return fields.containsKey(name); }

    public long getLong(String name) { return get(name, Long.class); }

    /**
     * A long field that must fit an int.
     *
     * @throws IncompatibleStateException when it is missing, not a number, or out of the int range (a hostile
     *                                    snapshot's field is refused by name, not an ArithmeticException)
     */
    public int getInt(String name) {
        long v = getLong(name);
        if (v != (int) v) throw new IncompatibleStateException(type + " state field '" + name + "' = " + v + " is out of range");
        return (int) v;
    }

    public boolean getBoolean(String name) { return getLong(name) != 0; }

    public String getString(String name) { return get(name, String.class); }

    public byte[] getBytes(String name) { return get(name, byte[].class).clone(); }

    public DeviceState getState(String name) { return get(name, DeviceState.class); }

    /** A list field; its elements are Long, String, byte[] or DeviceState. */
    @SuppressWarnings("unchecked")
    public List<Object> getList(String name) { return (List<Object>) get(name, List.class); }

    /** The long field, or {@code fallback} when an older version did not write it. */
    public long getLong(String name, long fallback) { return has(name) ? getLong(name) : fallback; }

    /**
     * Checks that this state is of {@code expectedType} and a version in
     * {@code [1, maxVersion]}.
     *
     * @throws IncompatibleStateException otherwise
     */
    public DeviceState require(String expectedType, int maxVersion) {
        if (!type.equals(expectedType))
            throw new IncompatibleStateException("state of type " + type + " given to a " + expectedType + " device");
        if (version < 1 || version > maxVersion)
            throw new IncompatibleStateException(type + " state version " + version + " is not readable (this build reads 1.." + maxVersion + ")");
        return this;
    }

    private <T> T get(String name, Class<T> kind) {
        Object v = fields.get(name);
        if (v == null) throw new IncompatibleStateException(type + " state v" + version + " has no field '" + name + "'");
        if (!kind.isInstance(v))
            throw new IncompatibleStateException(type + " state field '" + name + "' is not a " + kind.getSimpleName());
        return kind.cast(v);
    }

    /** The binary form, readable by {@link #decode(byte[])}. */
    public byte[] encode() {
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bos);
            out.writeInt(MAGIC);
            writeState(out, this);
            return bos.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads a state written by {@link #encode()}.
     *
     * @throws IncompatibleStateException when the bytes are not a well-formed state
     */
    public static DeviceState decode(byte[] bytes) {
        try {
            DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(bytes));
            if (in.readInt() != MAGIC) throw new IncompatibleStateException("not a device state (bad magic)");
            DeviceState s = readState(in, 0);
            if (in.available() != 0) throw new IncompatibleStateException("trailing bytes after device state");
            return s;
        } catch (IOException e) {
            throw new IncompatibleStateException("truncated or malformed device state: " + e);
        }
    }

    private static void writeState(DataOutputStream out, DeviceState s) throws IOException {
        out.writeUTF(s.type);
        out.writeInt(s.version);
        out.writeInt(s.fields.size());
        for (Map.Entry<String, Object> e : s.fields.entrySet()) {
            out.writeUTF(e.getKey());
            writeValue(out, e.getValue());
        }
    }

    private static void writeValue(DataOutputStream out, Object v) throws IOException {
        switch (v) {
            case Long l -> { out.writeByte(T_LONG); out.writeLong(l); }
            case String str -> {
                byte[] b = str.getBytes(StandardCharsets.UTF_8);
                out.writeByte(T_STRING); out.writeInt(b.length); out.write(b);
            }
            case byte[] b -> { out.writeByte(T_BYTES); out.writeInt(b.length); out.write(b); }
            case DeviceState st -> { out.writeByte(T_STATE); writeState(out, st); }
            case List<?> list -> {
                out.writeByte(T_LIST); out.writeInt(list.size());
                for (Object o : list) writeValue(out, o);
            }
            default -> throw new IllegalArgumentException("unsupported state value " + v.getClass());
        }
    }

    private static DeviceState readState(DataInputStream in, int depth) throws IOException {
        if (depth > 16) throw new IncompatibleStateException("device state nested too deeply");
        String type = in.readUTF();
        int version = in.readInt();
        int n = in.readInt();
        if (n < 0 || n > 1 << 20) throw new IncompatibleStateException("device state with " + n + " fields");
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            String name = in.readUTF();
            fields.put(name, readValue(in, depth));
        }
        return new DeviceState(type, version, fields);
    }

    private static Object readValue(DataInputStream in, int depth) throws IOException {
        byte tag = in.readByte();
        return switch (tag) {
            case T_LONG -> in.readLong();
            case T_STRING -> new String(readBytes(in), StandardCharsets.UTF_8);
            case T_BYTES -> readBytes(in);
            case T_STATE -> readState(in, depth + 1);
            case T_LIST -> {
                // lists nest like states: without this bound, a crafted state of nested lists overflows the stack
                if (depth > 16) throw new IncompatibleStateException("device state nested too deeply");
                int n = in.readInt();
                if (n < 0 || n > in.available()) throw new IncompatibleStateException("bad list length " + n);
                List<Object> l = new ArrayList<>(n);
                for (int i = 0; i < n; i++) l.add(readValue(in, depth + 1));
                yield List.copyOf(l);
            }
            default -> throw new IncompatibleStateException("unknown field tag " + tag);
        };
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > in.available()) throw new IncompatibleStateException("bad byte-array length " + n);
        return in.readNBytes(n);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeviceState s && java.util.Arrays.equals(s.encode(), encode());
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(encode());
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(type).append(" v").append(version).append(" {");
        fields.forEach((k, v) -> sb.append(' ').append(k).append('=')
                .append(v instanceof byte[] b ? "<" + b.length + " bytes>" : v));
        return sb.append(" }").toString();
    }

    /** Collects fields in order; names must be unique. */
    public static final class Builder {
        private final String type;
        private final int version;
        private final Map<String, Object> fields = new LinkedHashMap<>();

        private Builder(String type, int version) {
            if (type == null || type.isEmpty()) throw new IllegalArgumentException("state type must be named");
            if (version < 1) throw new IllegalArgumentException("state version must be at least 1");
            this.type = type;
            this.version = version;
        }

        public Builder put(String name, long v) { return add(name, v); }
        public Builder put(String name, boolean v) { return add(name, v ? 1L : 0L); }
        public Builder put(String name, String v) { return add(name, v); }
        public Builder put(String name, byte[] v) { return add(name, v.clone()); }
        public Builder put(String name, DeviceState v) { return add(name, v); }

        /** A list of Long, String, byte[] or DeviceState values (Integers are widened). */
        public Builder putList(String name, List<?> values) {
            List<Object> l = new ArrayList<>();
            for (Object o : values) {
                Object x = o instanceof Integer i ? Long.valueOf(i) : o;
                if (!(x instanceof Long || x instanceof String || x instanceof byte[] || x instanceof DeviceState))
                    throw new IllegalArgumentException("unsupported list element " + o);
                l.add(x);
            }
            return add(name, List.copyOf(l));
        }

        private Builder add(String name, Object v) {
            if (fields.putIfAbsent(name, v) != null) throw new IllegalArgumentException("field '" + name + "' written twice");
            return this;
        }

        public DeviceState build() {
            return new DeviceState(type, version, new LinkedHashMap<>(fields));
        }
    }
}
