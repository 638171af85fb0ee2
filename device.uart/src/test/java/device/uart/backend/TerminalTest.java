package device.uart.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Raw mode and its restoration on a real terminal: a pseudo-terminal this
 * test opens, so no test touches the terminal the build runs in.
 */
class TerminalTest {
    private static final int O_RDWR = 2, O_NOCTTY = 0400;
    private static final int LFLAG_OFFSET = 12, ICANON = 0x2, ECHO = 0x8;
    private static final Linker L = Linker.nativeLinker();

    private int master = -1, slave = -1;

    private static MethodHandle fn(String name, FunctionDescriptor fd) {
        return L.downcallHandle(L.defaultLookup().find(name).orElseThrow(), fd);
    }

    @BeforeEach
    void openPty() throws Throwable {
        var i = ValueLayout.JAVA_INT;
        master = (int) fn("posix_openpt", FunctionDescriptor.of(i, i)).invokeExact(O_RDWR | O_NOCTTY);
        assumeTrue(master >= 0, "this host offers no pseudo-terminals");
        assertThat((int) fn("grantpt", FunctionDescriptor.of(i, i)).invokeExact(master)).isZero();
        assertThat((int) fn("unlockpt", FunctionDescriptor.of(i, i)).invokeExact(master)).isZero();
        MemorySegment name = (MemorySegment) fn("ptsname", FunctionDescriptor.of(ValueLayout.ADDRESS, i)).invokeExact(master);
        String path = name.reinterpret(256).getString(0);
        try (Arena a = Arena.ofConfined()) {
            slave = (int) fn("open", FunctionDescriptor.of(i, ValueLayout.ADDRESS, i)).invokeExact(a.allocateFrom(path), O_RDWR | O_NOCTTY);
        }
        assertThat(slave).isNotNegative();
    }

    @AfterEach
    void closePty() throws Throwable {
        MethodHandle close = fn("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        if (slave >= 0) { int rc = (int) close.invokeExact(slave); }
        if (master >= 0) { int rc = (int) close.invokeExact(master); }
    }

    private static int lflag(byte[] mode) {
        return ByteBuffer.wrap(mode).order(ByteOrder.nativeOrder()).getInt(LFLAG_OFFSET);
    }

    @Test
    void rawModeTurnsOffEchoAndLineEditingAndTheSavedModeComesBack() {
        assertThat(Terminal.isTerminal(slave)).isTrue();
        byte[] cooked = Terminal.getMode(slave);
        assertThat(lflag(cooked) & (ICANON | ECHO)).isEqualTo(ICANON | ECHO);

        byte[] saved = Terminal.makeRaw(slave);
        assertThat(saved).isEqualTo(cooked);
        assertThat(lflag(Terminal.getMode(slave)) & (ICANON | ECHO)).isZero();

        assertThat(Terminal.setMode(slave, saved)).isTrue();
        assertThat(Terminal.getMode(slave)).isEqualTo(cooked);
    }

    @Test
    void theStdioBackEndPutsItsTerminalInRawModeAndRestoresItOnClose() {
        byte[] cooked = Terminal.getMode(slave);
        StdioBackend b = new StdioBackend(InputStream.nullInputStream(), new ByteArrayOutputStream(), slave);
        assertThat(b.rawMode()).isTrue();
        assertThat(lflag(Terminal.getMode(slave)) & (ICANON | ECHO)).isZero();
        b.close();
        assertThat(Terminal.getMode(slave)).isEqualTo(cooked);
    }
}
