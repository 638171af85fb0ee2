package vmm.core.internal.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The commands of QEMU's linker/loader interface, the fw_cfg file
 * {@code etc/table-loader} that SeaBIOS ({@code romfile_loader.c}) and OVMF
 * ({@code QemuFwCfgAcpi}) execute to place tables that the VMM handed over as
 * fw_cfg files: each command is one 128-byte little-endian entry, a 32-bit
 * command number followed by its arguments, the rest zero. ALLOCATE places a
 * file in a memory zone, ADD_POINTER adds the address where one file was
 * placed to a pointer field inside another, ADD_CHECKSUM makes a byte range
 * sum to zero by adjusting one byte. Not thread-safe; built once per table
 * set.
 */
public final class TableLoader {
    /** Bytes of one command entry. */
    public static final int ENTRY_SIZE = 128;
    /** Bytes of a file name field, NUL included (fw_cfg's file name size). */
    public static final int FILE_NAME_SIZE = 56;
    public static final int COMMAND_ALLOCATE = 1, COMMAND_ADD_POINTER = 2, COMMAND_ADD_CHECKSUM = 3;
    /** ALLOCATE zones: anywhere in RAM (high memory), or the F segment below 1 MiB (where an RSDP must be). */
    public static final int ZONE_HIGH = 1, ZONE_FSEG = 2;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Places {@code file} in {@code zone} at a multiple of {@code align} (a power of two). */
    public TableLoader allocate(String file, int align, int zone) {
        if (Integer.bitCount(align) != 1) throw new IllegalArgumentException("alignment must be a power of two: " + align);
        ByteBuffer b = entry(COMMAND_ALLOCATE);
        name(b, file);
        b.putInt(align).put((byte) zone);
        return add(b);
    }

    /**
     * Adds the address at which {@code source} was placed to the {@code size}-byte
     * little-endian value at {@code offset} in {@code dest}.
     */
    public TableLoader addPointer(String dest, int offset, int size, String source) {
        if (size != 1 && size != 2 && size != 4 && size != 8) throw new IllegalArgumentException("pointer size must be 1, 2, 4 or 8: " + size);
        ByteBuffer b = entry(COMMAND_ADD_POINTER);
        name(b, dest);
        name(b, source);
        b.putInt(offset).put((byte) size);
        return add(b);
    }

    /** Subtracts the byte sum of {@code file}'s {@code [start, start + length)} from the byte at {@code offset}. */
    public TableLoader addChecksum(String file, int offset, int start, int length) {
        ByteBuffer b = entry(COMMAND_ADD_CHECKSUM);
        name(b, file);
        b.putInt(offset).putInt(start).putInt(length);
        return add(b);
    }

    /** The {@code etc/table-loader} contents. */
    public byte[] toByteArray() {
        return out.toByteArray();
    }

    private static ByteBuffer entry(int command) {
        return ByteBuffer.allocate(ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN).putInt(command);
    }

    private static void name(ByteBuffer b, String file) {
        byte[] n = file.getBytes(StandardCharsets.US_ASCII);
        if (n.length == 0 || n.length >= FILE_NAME_SIZE) throw new IllegalArgumentException("file name must be 1..55 bytes: " + file);
        byte[] field = new byte[FILE_NAME_SIZE];
        System.arraycopy(n, 0, field, 0, n.length);
        b.put(field);
    }

    private TableLoader add(ByteBuffer b) {
        out.writeBytes(b.array());
        return this;
    }
}
