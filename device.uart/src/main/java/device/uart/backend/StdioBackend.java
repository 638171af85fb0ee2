package device.uart.backend;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The VMM's own terminal, like bhyve's {@code stdio}: the guest's output on
 * standard output, the user's keystrokes from standard input. When standard
 * input is a terminal it is put in raw mode (so ^C, ^Z and line editing go
 * to the guest) and its mode is restored on {@link #close()}, and by a
 * shutdown hook if the VM exits without closing. When it is not a terminal
 * (a pipe, a file) its bytes are passed on as they are.
 */
final class StdioBackend extends AbstractBackend {
    private static final int STDIN = 0;

    private final InputStream in;
    private final OutputStream out;
    private final byte[] savedMode;
    private final Thread restoreHook;
    private final int ttyFd;

    StdioBackend() {
        this(new FileInputStream(FileDescriptor.in), new FileOutputStream(FileDescriptor.out), STDIN);
    }

    /** Over given streams; {@code ttyFd} is the descriptor to put in raw mode if it is a terminal, or -1. */
    StdioBackend(InputStream in, OutputStream out, int ttyFd) {
        super("stdio");
        this.in = in;
        this.out = out;
        byte[] mode = ttyFd >= 0 && Terminal.isTerminal(ttyFd) ? Terminal.makeRaw(ttyFd) : null;
        savedMode = mode;
        if (mode != null) {
            restoreHook = new Thread(() -> Terminal.setMode(ttyFd, mode), "uart-stdio restore terminal");
            Runtime.getRuntime().addShutdownHook(restoreHook);
        } else {
            restoreHook = null;
        }
        this.ttyFd = ttyFd;
        startWriter();
        // a read on a terminal cannot be interrupted: the thread is a daemon and ends at the next keystroke after close
        Thread.ofPlatform().daemon().name("uart-in stdio").start(() -> {
            try {
                pump(in::read);
            } catch (IOException e) {
                // standard input closed: no more input
            }
        });
    }

    /** Whether the terminal was switched to raw mode (and will be restored). */
    boolean rawMode() {
        return savedMode != null;
    }

    @Override
    void writeOut(byte[] b, int len) throws IOException {
        out.write(b, 0, len);
        out.flush();
    }

    @Override
    void closeResources() {
        if (savedMode != null) {
            Terminal.setMode(ttyFd, savedMode);
            try {
                Runtime.getRuntime().removeShutdownHook(restoreHook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway and restores the same mode
            }
        }
        try {
            out.flush();
        } catch (IOException e) {
            // the terminal went away
        }
    }

    @Override
    public String describe() {
        return "stdio";
    }
}
