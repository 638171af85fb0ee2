package vmm.core.internal.chipset;

import java.util.ArrayDeque;
import java.util.Deque;

import vmm.core.bus.IoHandler;
import vmm.core.platform.PowerControl;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The keyboard controller as far as firmware and kernels use it without a
 * keyboard: controller self-test and interface tests, the command byte, the
 * output port (A20 gate, and bit 0 low = reset), pulse-reset command 0xFE;
 * and System Control Port A at 0x92 (bit 0 fast reset, bit 1 A20). No
 * keyboard or mouse is attached: commands meant for them are not answered,
 * so a driver sees a timeout, as with an empty port. A20 is always enabled
 * (KVM guests run with it on); its bit reads back what was written.
 * Thread-safe.
 */
public final class I8042 {
    public static final int PORT_DATA = 0x60, PORT_COMMAND = 0x64, PORT_A = 0x92;
    // Status register bits.
    static final int STATUS_OBF = 0x01, STATUS_SYSTEM = 0x04, STATUS_CMD = 0x08;
    // Controller commands.
    static final int CMD_READ_COMMAND_BYTE = 0x20, CMD_WRITE_COMMAND_BYTE = 0x60, CMD_DISABLE_AUX = 0xa7,
            CMD_ENABLE_AUX = 0xa8, CMD_TEST_AUX = 0xa9, CMD_SELF_TEST = 0xaa, CMD_TEST_KBD = 0xab, CMD_DISABLE_KBD = 0xad,
            CMD_ENABLE_KBD = 0xae, CMD_READ_OUTPUT_PORT = 0xd0, CMD_WRITE_OUTPUT_PORT = 0xd1, CMD_PULSE_RESET = 0xfe;
    static final int SELF_TEST_OK = 0x55, INTERFACE_OK = 0x00;
    static final int OUTPUT_PORT_RESET_LINE = 0x01, OUTPUT_PORT_A20 = 0x02, PORT_A_RESET = 0x01, PORT_A_A20 = 0x02;
    /**
     * Responses held for the guest to read. The chip has one output byte; a
     * few more let a driver that issues commands back to back read every
     * answer, and the bound keeps a guest that never reads from growing the
     * queue without end (it loses the newest answers, as it would lose them
     * on the chip).
     */
    static final int OUTPUT_BUFFER_BYTES = 16;

    private final PowerControl power;
    private final Deque<Integer> output = new ArrayDeque<>();
    private int commandByte = 0x45, outputPort = OUTPUT_PORT_RESET_LINE | OUTPUT_PORT_A20, portA = PORT_A_A20;
    private int pending = -1;
    private boolean lastWasCommand;

    public I8042(PowerControl power) {
        this.power = power;
    }

    /** Power-on state for a machine reset: empty output buffer, default command byte, A20 on, nothing pending. */
    public synchronized void reset() {
        output.clear();
        commandByte = 0x45;
        outputPort = OUTPUT_PORT_RESET_LINE | OUTPUT_PORT_A20;
        portA = PORT_A_A20;
        pending = -1;
        lastWasCommand = false;
    }

    public IoHandler controller() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return offset == 0 ? readData() : status();
            }

            @Override
            public void write(long offset, int size, long value) {
                if (offset == 0) writeData((int) value & 0xff);
                else command((int) value & 0xff);
            }
        };
    }

    public IoHandler portA() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                synchronized (I8042.this) {
                    return portA;
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                boolean reset;
                synchronized (I8042.this) {
                    reset = (value & PORT_A_RESET) != 0 && (portA & PORT_A_RESET) == 0;
                    portA = (int) value & 0xff;
                }
                if (reset) power.reset("system control port A (0x92)");
            }
        };
    }

    private synchronized int status() {
        return STATUS_SYSTEM | (lastWasCommand ? STATUS_CMD : 0) | (output.isEmpty() ? 0 : STATUS_OBF);
    }

    private synchronized int readData() {
        Integer v = output.poll();
        return v == null ? 0 : v;
    }

    private void command(int cmd) {
        boolean reset = false;
        synchronized (this) {
            lastWasCommand = true;
            pending = -1;
            switch (cmd) {
                case CMD_READ_COMMAND_BYTE -> respond(commandByte);
                case CMD_WRITE_COMMAND_BYTE, CMD_WRITE_OUTPUT_PORT -> pending = cmd;
                case CMD_SELF_TEST -> respond(SELF_TEST_OK);
                case CMD_TEST_KBD, CMD_TEST_AUX -> respond(INTERFACE_OK);
                case CMD_READ_OUTPUT_PORT -> respond(outputPort);
                case CMD_DISABLE_KBD -> commandByte |= 0x10;
                case CMD_ENABLE_KBD -> commandByte &= ~0x10;
                case CMD_DISABLE_AUX -> commandByte |= 0x20;
                case CMD_ENABLE_AUX -> commandByte &= ~0x20;
                case CMD_PULSE_RESET -> reset = true;
                default -> {
                    // 0xF0-0xFF pulse output lines; only bit 0 (reset) matters here.
                    if ((cmd & 0xf0) == 0xf0 && (cmd & 0x01) == 0) reset = true;
                }
            }
        }
        if (reset) power.reset("keyboard controller reset (0x64 command 0x" + Integer.toHexString(cmd) + ")");
    }

    /** Queues a response byte unless the output buffer is full. Holds the lock. */
    private void respond(int v) {
        if (output.size() < OUTPUT_BUFFER_BYTES) output.add(v);
    }

    private void writeData(int v) {
        boolean reset = false;
        synchronized (this) {
            lastWasCommand = false;
            if (pending == CMD_WRITE_COMMAND_BYTE) {
                commandByte = v;
            } else if (pending == CMD_WRITE_OUTPUT_PORT) {
                reset = (v & OUTPUT_PORT_RESET_LINE) == 0;
                outputPort = v;
            }
            // Bytes for the keyboard go nowhere: none is attached.
            pending = -1;
        }
        if (reset) power.reset("keyboard controller output port reset line");
    }

    /** The command byte, output port, port A, the bytes waiting to be read and a command awaiting its data. */
    public synchronized DeviceState save() {
        java.util.List<Long> out = new java.util.ArrayList<>();
        for (int v : output) out.add((long) v);
        return DeviceState.builder("vmm.platform.i8042", 1).put("command-byte", commandByte)
                .put("output-port", outputPort)
                .put("port-a", portA).put("pending", pending).put("last-was-command", lastWasCommand)
                .putList("output", out).build();
    }

    /** Puts back {@link #save()}'s state without acting on it (no reset is pulsed). */
    public synchronized void restore(DeviceState s) {
        s.require("vmm.platform.i8042", 1);
        java.util.List<Object> out = s.getList("output");
        if (out.size() > OUTPUT_BUFFER_BYTES || !out.stream().allMatch(o -> o instanceof Long v && v >= 0 && v <= 0xff))
            throw new IncompatibleStateException("vmm.platform.i8042 state: at most " + OUTPUT_BUFFER_BYTES
                    + " output bytes");
        long cb = s.getLong("command-byte"), op = s.getLong("output-port"), pa = s.getLong("port-a"),
                pe = s.getLong("pending");
        if ((cb | op | pa) >>> 8 != 0 || pe < -1 || pe > 0xff)
            throw new IncompatibleStateException("vmm.platform.i8042 state: registers are bytes");
        commandByte = (int) cb;
        outputPort = (int) op;
        portA = (int) pa;
        pending = (int) pe;
        lastWasCommand = s.getBoolean("last-was-command");
        output.clear();
        for (Object o : out) output.add(((Long) o).intValue());
    }
}
