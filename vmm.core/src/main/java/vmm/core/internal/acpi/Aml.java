package vmm.core.internal.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A small encoder of ACPI Machine Language (ACPI 6.5 chapter 20): the few
 * terms a DSDT for this machine needs (scopes, devices, names, integers,
 * strings, EISA IDs, packages and resource-template buffers, and for PCI
 * hotplug an I/O operation region with its fields, methods, Store, And, If
 * and Notify). Each method
 * returns the encoded term; nesting is by passing encoded terms in.
 */
public final class Aml {
    static final int ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0a, WORD_PREFIX = 0x0b,
            DWORD_PREFIX = 0x0c, STRING_PREFIX = 0x0d, QWORD_PREFIX = 0x0e, SCOPE_OP = 0x10, BUFFER_OP = 0x11,
            PACKAGE_OP = 0x12, ONES_OP = 0xff, EXT_OP_PREFIX = 0x5b, DEVICE_OP = 0x82, ROOT_CHAR = 0x5c,
            DUAL_NAME_PREFIX = 0x2e, MULTI_NAME_PREFIX = 0x2f, METHOD_OP = 0x14, LOCAL0_OP = 0x60, ARG0_OP = 0x68,
            STORE_OP = 0x70, AND_OP = 0x7b, NOTIFY_OP = 0x86, IF_OP = 0xa0, OP_REGION_OP = 0x80, FIELD_OP = 0x81;
    /** Operation region spaces (19.6.100). */
    static final int SYSTEM_IO = 0x01;
    /** FieldFlags (20.2.5.2): AccessType DWordAcc in bits 0..3, NoLock, UpdateRule WriteAsZeros in bits 5..6. */
    static final int DWORD_ACC = 0x03, WRITE_AS_ZEROS = 0x40;

    private Aml() {}

    /** A name path: dot-separated segments of at most four characters, optionally starting with '\'. */
    static byte[] name(String path) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String p = path;
        if (p.startsWith("\\")) {
            out.write(ROOT_CHAR);
            p = p.substring(1);
        }
        if (p.isEmpty()) {
            out.write(0); // NullName
            return out.toByteArray();
        }
        String[] segs = p.split("\\.");
        if (segs.length == 2) out.write(DUAL_NAME_PREFIX);
        else if (segs.length > 2) {
            out.write(MULTI_NAME_PREFIX);
            out.write(segs.length);
        }
        for (String s : segs) out.writeBytes(nameSeg(s));
        return out.toByteArray();
    }

    private static byte[] nameSeg(String s) {
        if (s.isEmpty() || s.length() > 4 || !s.matches("[A-Z_][A-Z0-9_]*"))
            throw new IllegalArgumentException("not an ACPI name segment: " + s);
        return (s + "____".substring(s.length())).getBytes(StandardCharsets.US_ASCII);
    }

    /** PkgLength (20.2.4): the length of what follows including the PkgLength bytes themselves. */
    static byte[] pkgLength(int contentLength) {
        if (contentLength + 1 < 0x40) return new byte[] {(byte) (contentLength + 1)};
        for (int n = 1; n <= 3; n++) {
            int total = contentLength + 1 + n;
            if (total < (1 << (4 + 8 * n))) {
                byte[] b = new byte[n + 1];
                b[0] = (byte) ((n << 6) | (total & 0x0f));
                for (int i = 1; i <= n; i++) b[i] = (byte) (total >>> (4 + 8 * (i - 1)));
                return b;
            }
        }
        throw new IllegalArgumentException("AML package too long: " + contentLength);
    }

    private static byte[] withPkgLength(int op, byte[]... parts) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] p : parts) body.writeBytes(p);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(op);
        out.writeBytes(pkgLength(body.size()));
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    /** {@code Scope(path) { terms }}. */
    static byte[] scope(String path, byte[]... terms) {
        return withPkgLength(SCOPE_OP, concat(name(path), concat(terms)));
    }

    /** {@code Device(name) { terms }}. */
    static byte[] device(String name, byte[]... terms) {
        byte[] d = withPkgLength(DEVICE_OP, concat(name(name), concat(terms)));
        return concat(new byte[] {(byte) EXT_OP_PREFIX}, d);
    }

    /** {@code Name(name, value)}. */
    static byte[] nameOf(String name, byte[] value) {
        return concat(new byte[] {NAME_OP}, name(name), value);
    }

    /** The shortest integer encoding of {@code v}. */
    static byte[] integer(long v) {
        if (v == 0) return new byte[] {ZERO_OP};
        if (v == 1) return new byte[] {ONE_OP};
        if (v >= 0 && v <= 0xff) return new byte[] {BYTE_PREFIX, (byte) v};
        if (v >= 0 && v <= 0xffff) return new byte[] {WORD_PREFIX, (byte) v, (byte) (v >>> 8)};
        if (v >= 0 && v <= 0xffffffffL) return new byte[] {DWORD_PREFIX, (byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
        byte[] q = new byte[9];
        q[0] = QWORD_PREFIX;
        for (int i = 0; i < 8; i++) q[1 + i] = (byte) (v >>> (8 * i));
        return q;
    }

    static byte[] string(String s) {
        return concat(new byte[] {STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /** A compressed EISA ID such as {@code PNP0A03} as the DWord ASL's EisaId() makes. */
    static byte[] eisaId(String id) {
        if (!id.matches("[A-Z]{3}[0-9A-F]{4}")) throw new IllegalArgumentException("not an EISA ID: " + id);
        int v = ((id.charAt(0) - 0x40) << 26) | ((id.charAt(1) - 0x40) << 21) | ((id.charAt(2) - 0x40) << 16)
                | Integer.parseInt(id.substring(3), 16);
        // Stored big-endian in the DWord's bytes: swap to the little-endian integer AML holds.
        return integer(Integer.reverseBytes(v) & 0xffffffffL);
    }

    /** {@code Package() { elements }}. */
    static byte[] pkg(byte[]... elements) {
        if (elements.length > 255) throw new IllegalArgumentException("package of " + elements.length + " elements");
        return withPkgLength(PACKAGE_OP, concat(new byte[] {(byte) elements.length}, concat(elements)));
    }

    /** {@code ResourceTemplate() { descriptors }}: a buffer ending with an End Tag. */
    static byte[] resourceTemplate(byte[]... descriptors) {
        byte[] body = concat(concat(descriptors), new byte[] {0x79, 0x00});
        return withPkgLength(BUFFER_OP, concat(integer(body.length), body));
    }

    /** {@code IO(Decode16, base, base, 1, length)} (small resource, 6.4.2.5). */
    static byte[] io(int base, int length) {
        return new byte[] {0x47, 0x01, (byte) base, (byte) (base >>> 8), (byte) base, (byte) (base >>> 8), 0x01, (byte) length};
    }

    /** {@code Memory32Fixed(ReadWrite, base, length)} (large resource, 6.4.3.4). */
    static byte[] memory32Fixed(long base, long length) {
        byte[] b = {(byte) 0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 4; i++) {
            b[4 + i] = (byte) (base >>> (8 * i));
            b[8 + i] = (byte) (length >>> (8 * i));
        }
        return b;
    }

    /** Address space resource types (6.4.3.5.1). */
    static final int MEMORY_RANGE = 0, IO_RANGE = 1, BUS_NUMBER_RANGE = 2;

    /**
     * {@code WordBusNumber}/{@code WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)} (large resource,
     * 6.4.3.5.3): a window a bridge decodes, {@code min} to {@code max} inclusive; I/O ranges decode the entire range.
     */
    static byte[] wordWindow(int type, int min, int max) {
        int typeFlags = type == IO_RANGE ? 0x03 : 0;
        byte[] b = {(byte) 0x88, 0x0D, 0x00, (byte) type, 0x0C, (byte) typeFlags, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 2; i++) {
            b[8 + i] = (byte) (min >>> (8 * i));
            b[10 + i] = (byte) (max >>> (8 * i));
            b[14 + i] = (byte) ((max - min + 1) >>> (8 * i));
        }
        return b;
    }

    /**
     * {@code DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...)} (large
     * resource, 6.4.3.5.2): a memory window a bridge decodes, {@code min} to {@code max} inclusive.
     */
    static byte[] dwordMemoryWindow(long min, long max) {
        byte[] b = new byte[26];
        b[0] = (byte) 0x87;
        b[1] = 0x17;
        b[3] = MEMORY_RANGE;
        b[4] = 0x0C;
        b[5] = 0x01;                                                        // read-write, non-cacheable
        for (int i = 0; i < 4; i++) {
            b[10 + i] = (byte) (min >>> (8 * i));
            b[14 + i] = (byte) (max >>> (8 * i));
            b[22 + i] = (byte) ((max - min + 1) >>> (8 * i));
        }
        return b;
    }

    /** {@code IRQNoFlags() { irq }} (small resource, 6.4.2.1). */
    static byte[] irq(int irq) {
        int mask = 1 << irq;
        return new byte[] {0x22, (byte) mask, (byte) (mask >>> 8)};
    }

    /** {@code Method(name, args, NotSerialized) { terms }}. */
    static byte[] method(String name, int args, byte[]... terms) {
        if (args < 0 || args > 7) throw new IllegalArgumentException("a method takes 0..7 arguments, not " + args);
        return withPkgLength(METHOD_OP, concat(name(name), new byte[] {(byte) args}, concat(terms)));
    }

    /** {@code OperationRegion(name, SystemIO, base, length)}. */
    static byte[] ioRegion(String name, int base, int length) {
        return concat(new byte[] {(byte) EXT_OP_PREFIX, (byte) OP_REGION_OP}, name(name), new byte[] {SYSTEM_IO}, integer(base), integer(length));
    }

    /**
     * {@code Field(region, DWordAcc, NoLock, WriteAsZeros) { name, 32, ... }}: consecutive 32-bit fields.
     */
    static byte[] dwordFields(String region, String... names) {
        java.io.ByteArrayOutputStream list = new java.io.ByteArrayOutputStream();
        for (String n : names) {
            list.writeBytes(nameSeg(n));
            list.write(32); // the field's length in bits, encoded as a PkgLength of the value itself
        }
        byte[] f = withPkgLength(FIELD_OP, concat(name(region), new byte[] {(byte) (DWORD_ACC | WRITE_AS_ZEROS)}, list.toByteArray()));
        return concat(new byte[] {(byte) EXT_OP_PREFIX}, f);
    }

    /** A reference to a named object, as an operand. */
    static byte[] ref(String path) {
        return name(path);
    }

    /** {@code LocalN}. */
    static byte[] local(int n) {
        return new byte[] {(byte) (LOCAL0_OP + n)};
    }

    /** {@code ArgN}. */
    static byte[] arg(int n) {
        return new byte[] {(byte) (ARG0_OP + n)};
    }

    /** {@code Store(value, target)}. */
    static byte[] store(byte[] value, byte[] target) {
        return concat(new byte[] {STORE_OP}, value, target);
    }

    /** {@code And(a, b)} with no target: the result as an operand. */
    static byte[] and(byte[] a, byte[] b) {
        return concat(new byte[] {AND_OP}, a, b, new byte[] {0});
    }

    /** {@code If(predicate) { terms }}. */
    static byte[] ifThen(byte[] predicate, byte[]... terms) {
        return withPkgLength(IF_OP, concat(predicate, concat(terms)));
    }

    /** {@code Notify(object, value)}. */
    static byte[] notify(String object, int value) {
        return concat(new byte[] {(byte) NOTIFY_OP}, name(object), integer(value));
    }
}
