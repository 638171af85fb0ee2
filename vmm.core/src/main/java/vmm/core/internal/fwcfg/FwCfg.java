package vmm.core.internal.fwcfg;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

import vmm.core.bus.IoHandler;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.GuestMemoryException;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * QEMU's firmware configuration device (docs/specs/fw_cfg.rst in QEMU),
 * the interface SeaBIOS and OVMF read the machine's description from: a
 * selector port (0x510, 16-bit), a data port (0x511, byte-wise reads) and
 * the DMA interface (0x514, a big-endian guest address written high half
 * then low half; writing the low half runs the transfer). Items are
 * numbered keys and named files listed in a directory. Everything the guest
 * writes is checked: a DMA descriptor or buffer outside RAM ends that
 * transfer with the error bit, nothing else. Thread-safe.
 */
public final class FwCfg {
    private static final System.Logger LOG = System.getLogger("vmm.fwcfg");

    public static final int PORT_SELECTOR = 0x510, PORT_DATA = 0x511, PORT_DMA = 0x514;
    /** Bytes of I/O space the device decodes from {@link #PORT_SELECTOR}: selector, data, pad, DMA (8). */
    public static final int PORT_SPAN = 0x10;

    // Keys (fw_cfg.rst "Selector register").
    public static final int FW_CFG_SIGNATURE = 0x00, FW_CFG_ID = 0x01, FW_CFG_UUID = 0x02, FW_CFG_RAM_SIZE = 0x03,
            FW_CFG_NOGRAPHIC = 0x04, FW_CFG_NB_CPUS = 0x05, FW_CFG_MACHINE_ID = 0x06, FW_CFG_KERNEL_ADDR = 0x07,
            FW_CFG_KERNEL_SIZE = 0x08, FW_CFG_KERNEL_CMDLINE = 0x09, FW_CFG_INITRD_ADDR = 0x0a, FW_CFG_INITRD_SIZE = 0x0b,
            FW_CFG_BOOT_DEVICE = 0x0c, FW_CFG_NUMA = 0x0d, FW_CFG_BOOT_MENU = 0x0e, FW_CFG_MAX_CPUS = 0x0f,
            FW_CFG_FILE_DIR = 0x19, FW_CFG_FILE_FIRST = 0x20;
    /** FW_CFG_ID bits: the traditional interface, and DMA. */
    public static final int FW_CFG_VERSION = 0x01, FW_CFG_VERSION_DMA = 0x02;
    /** DMA control bits. */
    public static final int FW_CFG_DMA_CTL_ERROR = 0x01, FW_CFG_DMA_CTL_READ = 0x02, FW_CFG_DMA_CTL_SKIP = 0x04,
            FW_CFG_DMA_CTL_SELECT = 0x08, FW_CFG_DMA_CTL_WRITE = 0x10;
    /** "QEMU CFG", what a read of the DMA address register returns. */
    public static final long FW_CFG_DMA_SIGNATURE = 0x51454d5520434647L;
    /** Bytes of a file name in a directory entry, NUL included. */
    public static final int FILE_NAME_SIZE = 56;
    /** Bytes of the DMA descriptor: be32 control, be32 length, be64 address. */
    public static final int DMA_ACCESS_SIZE = 16;

    private final GuestMemory memory;
    private final Map<Integer, byte[]> items = new TreeMap<>();
    private final Map<String, Integer> files = new LinkedHashMap<>();
    private final Map<Integer, Supplier<byte[]>> generated = new HashMap<>();
    private int selected;
    private int offset;
    private long dmaHigh;

    public FwCfg(GuestMemory memory) {
        this.memory = memory;
        items.put(FW_CFG_SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
        items.put(FW_CFG_ID, le32(FW_CFG_VERSION | FW_CFG_VERSION_DMA));
        rebuildDirectory();
    }

    /** Sets a numbered item. Called while the machine is assembled. */
    public synchronized void put(int key, byte[] value) {
        if (key < 0 || key >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR)
            throw new IllegalArgumentException(String.format("fw_cfg key 0x%x is not a settable numbered item", key));
        items.put(key, value.clone());
    }

    /**
     * Adds or replaces the file {@code name}; returns its key.
     *
     * @throws IllegalArgumentException when the name does not fit a directory entry
     */
    public synchronized int addFile(String name, byte[] contents) {
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        if (n.length == 0 || n.length >= FILE_NAME_SIZE) throw new IllegalArgumentException("fw_cfg file name must be 1..55 bytes: " + name);
        Integer key = files.get(name);
        if (key == null) {
            key = FW_CFG_FILE_FIRST + files.size();
            files.put(name, key);
        }
        items.put(key, contents.clone());
        rebuildDirectory();
        return key;
    }

    /**
     * Adds the file {@code name} whose contents {@code contents} produces each
     * time the guest selects it (QEMU's select callback), so it can describe
     * what the firmware set up before reading it (the ACPI tables name the
     * PM block where the firmware moved it). The supplier runs on a vCPU
     * thread under this device's lock, and must always produce the size it
     * produced here, which the directory lists.
     *
     * @return the file's key
     * @throws IllegalArgumentException when the name does not fit a directory entry
     */
    public synchronized int addGeneratedFile(String name, Supplier<byte[]> contents) {
        int key = addFile(name, contents.get());
        generated.put(key, contents);
        return key;
    }

    /**
     * Back to the power-on state for a machine reset: nothing selected, no
     * half-written DMA address. The items stay.
     */
    public synchronized void reset() {
        selected = 0;
        offset = 0;
        dmaHigh = 0;
    }

    /** The contents of file {@code name}, or null. */
    public synchronized byte[] file(String name) {
        Integer key = files.get(name);
        return key == null ? null : items.get(key).clone();
    }

    private void rebuildDirectory() {
        // Directory entries are sorted by name, as QEMU lists them.
        Map<String, Integer> sorted = new TreeMap<>(files);
        ByteBuffer b = ByteBuffer.allocate(4 + 64 * sorted.size()).order(ByteOrder.BIG_ENDIAN);
        b.putInt(sorted.size());
        for (Map.Entry<String, Integer> e : sorted.entrySet()) {
            b.putInt(items.get(e.getValue()).length).putShort((short) (int) e.getValue()).putShort((short) 0);
            byte[] name = new byte[FILE_NAME_SIZE];
            byte[] n = e.getKey().getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(n, 0, name, 0, n.length);
            b.put(name);
        }
        items.put(FW_CFG_FILE_DIR, b.array());
    }

    /** The I/O port handler for the span at {@link #PORT_SELECTOR}. */
    public IoHandler ports() {
        return new IoHandler() {
            @Override
            public long read(long off, int size) {
                return FwCfg.this.read((int) off, size);
            }

            @Override
            public void write(long off, int size, long value) {
                FwCfg.this.write((int) off, size, value);
            }
        };
    }

    private synchronized long read(int off, int size) {
        int dma = PORT_DMA - PORT_SELECTOR;
        if (off == PORT_DATA - PORT_SELECTOR) {
            // Multi-byte data reads return consecutive bytes in ascending port-address order (fw_cfg.rst).
            long v = 0;
            for (int i = 0; i < size; i++) v |= (long) nextByte() << (8 * i);
            return v;
        }
        if (off >= dma && off < dma + 8) {
            // The DMA address register reads as the signature, big-endian at the port address.
            long v = 0;
            for (int i = 0; i < size && off - dma + i < 8; i++) {
                int byteIndex = off - dma + i;
                v |= ((FW_CFG_DMA_SIGNATURE >>> (8 * (7 - byteIndex))) & 0xff) << (8 * i);
            }
            return v;
        }
        return 0;
    }

    private synchronized void write(int off, int size, long value) {
        int dma = PORT_DMA - PORT_SELECTOR;
        if (off == 0 && size == 2) {
            select((int) value & 0xffff);
        } else if (off == dma && size == 4) {
            dmaHigh = Integer.reverseBytes((int) value) & 0xffffffffL;
        } else if (off == dma + 4 && size == 4) {
            long address = dmaHigh << 32 | (Integer.reverseBytes((int) value) & 0xffffffffL);
            dmaHigh = 0;
            runDma(address);
        } else if (off == dma && size == 8) {
            runDma(Long.reverseBytes(value));
        }
        // Writes to the data port were removed in QEMU 2.4: ignored, as there.
    }

    private void select(int key) {
        selected = key;
        offset = 0;
        Supplier<byte[]> g = generated.get(key);
        if (g != null) {
            byte[] now = g.get();
            int listed = items.get(key).length;
            // The directory the firmware already read gives the size; a different one is a VMM bug.
            if (now.length != listed)
                throw new IllegalStateException(String.format("fw_cfg item 0x%x generated %d bytes, the directory lists %d", key, now.length, listed));
            items.put(key, now);
        }
    }

    private int nextByte() {
        byte[] item = items.get(selected);
        if (item == null || offset >= item.length) return 0;
        return item[offset++] & 0xff;
    }

    /** Runs the DMA descriptor at {@code address}; its control word ends 0 (done) or with the error bit. */
    private void runDma(long address) {
        int control;
        long length, buffer;
        try {
            control = Integer.reverseBytes(memory.readU32AsInt(address));
            length = Integer.reverseBytes(memory.readU32AsInt(address + 4)) & 0xffffffffL;
            buffer = Long.reverseBytes(memory.readU64(address + 8));
        } catch (GuestMemoryException | IllegalArgumentException e) {
            LOG.log(Level.DEBUG, "fw_cfg: DMA descriptor at 0x{0} is not in RAM", Long.toHexString(address));
            return;
        }
        int result = 0;
        if ((control & FW_CFG_DMA_CTL_SELECT) != 0) select(control >>> 16);
        try {
            if ((control & FW_CFG_DMA_CTL_WRITE) != 0) {
                result = FW_CFG_DMA_CTL_ERROR; // no item is writable
            } else if ((control & FW_CFG_DMA_CTL_READ) != 0) {
                byte[] item = items.get(selected);
                long available = item == null ? 0 : Math.max(0, item.length - offset);
                long n = Math.min(length, available);
                if (n > 0) memory.write(buffer, item, offset, (int) n);
                if (length > n) memory.fill(buffer + n, length - n, (byte) 0);
                offset += (int) n;
            } else if ((control & FW_CFG_DMA_CTL_SKIP) != 0) {
                offset = (int) Math.min(Integer.MAX_VALUE, offset + length);
            }
        } catch (GuestMemoryException | IllegalArgumentException e) {
            result = FW_CFG_DMA_CTL_ERROR;
        }
        try {
            memory.writeU32(address, Integer.reverseBytes(result) & 0xffffffffL);
        } catch (GuestMemoryException | IllegalArgumentException e) {
            // the descriptor was readable a moment ago; a guest racing its own memory map gets no answer
        }
    }

    public static byte[] le16(int v) {
        return ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v).array();
    }

    public static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    public static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    /** The selected item, the read offset in it and the DMA address's high half, for a snapshot. */
    public synchronized DeviceState save() {
        return DeviceState.builder("vmm.platform.fw_cfg", 1).put("selected", selected).put("offset", offset)
                .put("dma-high", dmaHigh).build();
    }

    /** Puts back {@link #save()}'s state; the items are this machine's, made from the same configuration. */
    public synchronized void restore(DeviceState s) {
        s.require("vmm.platform.fw_cfg", 1);
        long sel = s.getLong("selected"), off = s.getLong("offset"), dh = s.getLong("dma-high");
        if (sel < 0 || sel > 0xffff || off < 0 || off > Integer.MAX_VALUE || dh < 0 || dh > 0xffff_ffffL)
            throw new IncompatibleStateException(
                    "vmm.platform.fw_cfg state: a 16-bit selector, an offset and a 32-bit DMA address half");
        // A generated item (the ACPI tables) is made at its selection: make it again for a read part way through.
        select((int) sel);
        offset = (int) off;
        dmaHigh = dh;
    }
}
