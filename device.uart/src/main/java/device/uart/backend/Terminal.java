package device.uart.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The host terminal's line discipline through libc's termios calls, bound
 * with {@code java.lang.foreign}: whether a descriptor is a terminal, and
 * raw mode (no echo, no line editing, no signals from ^C, no output
 * post-processing) with the saved mode put back afterwards. Linux only.
 */
final class Terminal {
    /** Larger than glibc's {@code struct termios} (60 bytes on Linux); treated as opaque. */
    private static final long TERMIOS_BYTES = 128;
    private static final int TCSANOW = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle ISATTY = bind("isatty", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle TCGETATTR = bind("tcgetattr",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle TCSETATTR = bind("tcsetattr",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle CFMAKERAW = bind("cfmakeraw", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

    private Terminal() {}

    private static MethodHandle bind(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name)), fd);
    }

    static boolean isTerminal(int fd) {
        try {
            return (int) ISATTY.invokeExact(fd) == 1;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The terminal mode of {@code fd} as saved bytes; null when {@code fd} is not a terminal. */
    static byte[] getMode(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_BYTES);
            int rc = (int) TCGETATTR.invokeExact(fd, t);
            return rc == 0 ? t.toArray(ValueLayout.JAVA_BYTE) : null;
        } catch (Throwable e) {
            return null;
        }
    }

    /** Puts back a mode saved by {@link #getMode}; returns whether the terminal took it. */
    static boolean setMode(int fd, byte[] mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_BYTES);
            t.copyFrom(MemorySegment.ofArray(mode));
            return (int) TCSETATTR.invokeExact(fd, TCSANOW, t) == 0;
        } catch (Throwable e) {
            return false;
        }
    }

    /**
     * Switches {@code fd} to raw mode and returns the mode it had, to give to
     * {@link #setMode}; null (and nothing changed) when it is not a terminal.
     */
    static byte[] makeRaw(int fd) {
        byte[] saved = getMode(fd);
        if (saved == null) return null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_BYTES);
            t.copyFrom(MemorySegment.ofArray(saved));
            CFMAKERAW.invokeExact(t);
            if ((int) TCSETATTR.invokeExact(fd, TCSANOW, t) != 0) return null;
            return saved;
        } catch (Throwable e) {
            return null;
        }
    }
}
