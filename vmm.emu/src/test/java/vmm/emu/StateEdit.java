package vmm.emu;

import java.util.List;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;


/** Tests' way to make a bad saved state: a copy of a {@link DeviceState} with one field's value replaced. */
public final class StateEdit {
    private StateEdit() {
    }

    /** {@code s} with {@code field} set to {@code value} (a Long, String, byte[], DeviceState or List). */
    public static DeviceState with(DeviceState s, String field, Object value) {
        DeviceState.Builder b = DeviceState.builder(s.type(), s.version());
        boolean found = false;
        for (String n : s.names()) {
            Object v = n.equals(field) ? value : raw(s, n);
            found |= n.equals(field);
            put(b, n, v);
        }
        if (!found) put(b, field, value);
        return b.build();
    }

    /** {@code s} without {@code field}. */
    public static DeviceState without(DeviceState s, String field) {
        DeviceState.Builder b = DeviceState.builder(s.type(), s.version());
        for (String n : s.names()) if (!n.equals(field)) put(b, n, raw(s, n));
        return b.build();
    }

    /** {@code s} with its type and version replaced. */
    public static DeviceState retyped(DeviceState s, String type, int version) {
        DeviceState.Builder b = DeviceState.builder(type, version);
        for (String n : s.names()) put(b, n, raw(s, n));
        return b.build();
    }

    private static void put(DeviceState.Builder b, String n, Object v) {
        switch (v) {
            case Long l -> b.put(n, l);
            case Integer i -> b.put(n, (long) i);
            case Boolean z -> b.put(n, z);
            case String str -> b.put(n, str);
            case byte[] bytes -> b.put(n, bytes);
            case DeviceState d -> b.put(n, d);
            case List<?> l -> b.putList(n, l);
            default -> throw new IllegalArgumentException(n + ": " + v);
        }
    }

    private static Object raw(DeviceState s, String n) {
        for (int kind = 0; kind < 5; kind++) {
            try {
                return switch (kind) {
                    case 0 -> s.getLong(n);
                    case 1 -> s.getString(n);
                    case 2 -> s.getBytes(n);
                    case 3 -> s.getState(n);
                    default -> s.getList(n);
                };
            } catch (IncompatibleStateException e) {
                // a field of another kind: try the next
            }
        }
        throw new IllegalArgumentException(n);
    }
}
