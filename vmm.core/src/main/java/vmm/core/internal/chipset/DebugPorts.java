package vmm.core.internal.chipset;

import java.util.function.Consumer;

import vmm.core.bus.IoHandler;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The ports firmware writes progress to: the POST code port 0x80 (kept, the
 * last value readable) and the debug console 0x402, QEMU's "debugcon", to
 * which SeaBIOS and OVMF write their log. Console bytes are gathered into
 * lines handed to a sink; a line is cut at 1 KiB so a guest cannot grow it
 * without bound. Reads of 0x402 return 0xE9, the value QEMU's debugcon
 * answers so firmware can detect it. Thread-safe.
 */
public final class DebugPorts {
    public static final int POST_PORT = 0x80, DEBUGCON_PORT = 0x402;
    static final int DEBUGCON_READBACK = 0xe9, MAX_LINE = 1024;

    private final Consumer<String> console;
    private final StringBuilder line = new StringBuilder();
    private int lastPostCode;

    public DebugPorts(Consumer<String> console) {
        this.console = console;
    }

    public synchronized int lastPostCode() {
        return lastPostCode;
    }

    public IoHandler post() {
        return new IoHandler() {
            @Override public long read(long offset, int size) { return lastPostCode(); }
            @Override public void write(long offset, int size, long value) {
                synchronized (DebugPorts.this) {
                    lastPostCode = (int) value & 0xff;
                }
            }
        };
    }

    public IoHandler debugcon() {
        return new IoHandler() {
            @Override public long read(long offset, int size) { return DEBUGCON_READBACK; }
            @Override public void write(long offset, int size, long value) {
                for (int i = 0; i < size; i++) put((int) (value >>> (8 * i)) & 0xff);
            }
        };
    }

    private void put(int c) {
        String done = null;
        synchronized (this) {
            if (c == '\n' || line.length() >= MAX_LINE) {
                done = line.toString();
                line.setLength(0);
                if (c != '\n' && c != '\r') line.append((char) c);
            } else if (c != '\r') {
                line.append(c >= 0x20 && c < 0x7f || c == '\t' ? (char) c : '.');
            }
        }
        if (done != null) console.accept(done);
    }

    /** The last POST code and the debug console's unfinished line. */
    public synchronized DeviceState save() {
        return DeviceState.builder("vmm.platform.debug-ports", 1).put("post-code", lastPostCode)
                .put("line", line.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)).build();
    }

    public synchronized void restore(DeviceState s) {
        s.require("vmm.platform.debug-ports", 1);
        byte[] l = s.getBytes("line");
        long p = s.getLong("post-code");
        if (l.length > MAX_LINE || p < 0 || p > 0xff)
            throw new IncompatibleStateException("vmm.platform.debug-ports state: a line of at most " + MAX_LINE
                    + " bytes, a byte code");
        lastPostCode = (int) p;
        line.setLength(0);
        for (byte b : l) line.append(b >= 0x20 && b < 0x7f || b == '\t' ? (char) b : '.');
    }
}
