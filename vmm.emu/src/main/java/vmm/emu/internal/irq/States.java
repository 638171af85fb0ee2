package vmm.emu.internal.irq;

import java.util.ArrayList;
import java.util.List;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;


/**
 * Reading the interrupt controllers' saved state as untrusted input (a snapshot file): every number is checked
 * against what the model can hold before it is used, and a bad one names its state and field in one line.
 */
final class States {
    private States() {
    }

    static long range(DeviceState s, String name, long min, long max) {
        long v = s.getLong(name);
        if (v < min || v > max)
            throw new IncompatibleStateException(String.format("%s state field '%s': %d is outside [%d, %d]", s.type(),
                    name, v, min, max));
        return v;
    }

    static int intRange(DeviceState s, String name, int min, int max) {
        return (int) range(s, name, min, max);
    }

    /** A field of {@code n} numbers, each in [min, max]. */
    static long[] longs(DeviceState s, String name, int n, long min, long max) {
        List<Object> l = s.getList(name);
        if (l.size() != n)
            throw new IncompatibleStateException(s.type() + " state field '" + name + "': " + n
                    + " values, not " + l.size());
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            if (!(l.get(i) instanceof Long v) || v < min || v > max)
                throw new IncompatibleStateException(String.format("%s state field '%s': value %d is not a number in"
                        + " [%d, %d]", s.type(), name, i, min, max));
            a[i] = v;
        }
        return a;
    }

    static int[] ints(DeviceState s, String name, int n, long min, long max) {
        long[] l = longs(s, name, n, min, max);
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = (int) l[i];
        return a;
    }

    static List<Long> list(int[] a) {
        List<Long> l = new ArrayList<>(a.length);
        for (int v : a) l.add(v & 0xFFFF_FFFFL);
        return l;
    }

    static List<Long> list(long[] a) {
        List<Long> l = new ArrayList<>(a.length);
        for (long v : a) l.add(v);
        return l;
    }

    /** A nested state of the given type and version 1. */
    static DeviceState nested(DeviceState s, String name, String type) {
        return s.getState(name).require(type, 1);
    }
}
