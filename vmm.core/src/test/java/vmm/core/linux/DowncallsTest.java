package vmm.core.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import org.junit.jupiter.api.Test;

/** The shared libc binding: each failure reaches the caller as its own exception, naming the call and errno. */
class DowncallsTest {
    private static final int EBADF = 9, ENOENT = 2, ENOTTY = 25, O_RDONLY = 0;
    private static final long TCGETS = 0x5401;

    /** A caller's own exception type, as vmm.kvm's SysException is. */
    static final class CallerException extends RuntimeException {
        final String call;
        final int errno;

        CallerException(String call, int errno) {
            super(Downcalls.failureMessage(call, errno));
            this.call = call;
            this.errno = errno;
        }
    }

    @Test
    void aFailedCloseThrowsTheCallersExceptionNamingTheCallTheReasonAndTheErrno() {
        assertThatThrownBy(() -> Downcalls.close(-1, CallerException::new))
                .isInstanceOfSatisfying(CallerException.class, e -> {
                    assertThat(e.call).isEqualTo("close(-1)");
                    assertThat(e.errno).isEqualTo(EBADF);
                })
                .hasMessage("close(-1) failed: Bad file descriptor (errno 9)");
    }

    @Test
    void aCheckedExceptionTypeIsThrownAsItIs() {
        assertThatThrownBy(() -> Downcalls.open("/nonexistent/downcalls-test", O_RDONLY,
                (call, errno) -> new IOException(Downcalls.failureMessage(call, errno))))
                .isExactlyInstanceOf(IOException.class)
                .hasMessage("open(/nonexistent/downcalls-test) failed: No such file or directory (errno "
                        + ENOENT + ")");
    }

    @Test
    void anIoctlThatTheFileDoesNotKnowFailsUnderTheCallersName() {
        int fd = Downcalls.open("/dev/null", O_RDONLY, CallerException::new);
        try {
            assertThatThrownBy(() -> Downcalls.ioctl(fd, TCGETS, 0L, "TCGETS", CallerException::new))
                    .isInstanceOfSatisfying(CallerException.class, e -> assertThat(e.errno).isEqualTo(ENOTTY))
                    .hasMessageStartingWith("TCGETS failed: ");
            try (var arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment termios = arena.allocate(64);
                assertThatThrownBy(() -> Downcalls.ioctl(fd, TCGETS, termios, "TCGETS(ptr)", CallerException::new))
                        .isInstanceOfSatisfying(CallerException.class, e -> assertThat(e.errno).isEqualTo(ENOTTY));
            }
            MemorySegment capture = java.lang.foreign.Arena.ofAuto().allocate(Downcalls.CAPTURE);
            assertThat(Downcalls.ioctlNoThrow(capture, fd, TCGETS, 0L)).isEqualTo(-1);
            assertThat(Downcalls.errno(capture)).isEqualTo(ENOTTY);
        } finally {
            Downcalls.close(fd, CallerException::new);
        }
    }

    @Test
    void anAnonymousMappingIsZeroedWritableAndUnmapped() {
        long size = 2 * 4096;
        MemorySegment m = Downcalls.mmap(size, Downcalls.PROT_READ | Downcalls.PROT_WRITE,
                Downcalls.MAP_PRIVATE | Downcalls.MAP_ANONYMOUS, -1, 0, CallerException::new);
        assertThat(m.byteSize()).isEqualTo(size);
        assertThat(m.get(ValueLayout.JAVA_LONG, size - 8)).isZero();
        m.set(ValueLayout.JAVA_LONG, 4096, 0x1234_5678_9abcL);
        assertThat(m.get(ValueLayout.JAVA_LONG, 4096)).isEqualTo(0x1234_5678_9abcL);
        Downcalls.munmap(m, CallerException::new);
    }

    @Test
    void aFailedMapNamesTheDescriptorTheOffsetAndTheSize() {
        assertThatThrownBy(() -> Downcalls.mmap(4096, Downcalls.PROT_READ, Downcalls.MAP_SHARED, -1, 0x2000,
                CallerException::new))
                .isInstanceOfSatisfying(CallerException.class, e -> assertThat(e.errno).isEqualTo(EBADF))
                .hasMessageStartingWith("mmap(fd -1, offset 0x2000, 4096 bytes) failed: ");
    }

    @Test
    void quietCallsIgnoreWhatTheyCannotUndo() {
        Downcalls.closeQuietly(-1);
        Downcalls.closeQuietly(Integer.MAX_VALUE);
        MemorySegment m = Downcalls.mmap(4096, Downcalls.PROT_READ, Downcalls.MAP_PRIVATE | Downcalls.MAP_ANONYMOUS,
                -1, 0, CallerException::new);
        assertThat(Downcalls.munmapQuietly(m)).isZero();
    }

    @Test
    void aBoundFunctionReportsErrnoThroughItsCaptureSegment() throws Throwable {
        MethodHandle dup = Downcalls.bind("dup", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        int errno = Downcalls.withErrno((a, st) -> (int) dup.invokeExact(st, -1) < 0 ? Downcalls.errno(st) : 0);
        assertThat(errno).isEqualTo(EBADF);
    }

    @Test
    void aCheckedExceptionOfTheBodyPassesOnlyWhereTheCallerSaysSo() {
        assertThatThrownBy(() -> Downcalls.withErrno(IOException.class, (a, st) -> {
            throw new IOException("peer gone");
        })).isExactlyInstanceOf(IOException.class).hasMessage("peer gone");
        assertThatThrownBy(() -> Downcalls.withErrno((a, st) -> {
            throw new IOException("peer gone");
        })).isExactlyInstanceOf(IllegalStateException.class).hasCauseInstanceOf(IOException.class);
    }

    @Test
    void anUnknownSymbolIsNamed() {
        assertThatThrownBy(() -> Downcalls.symbol("no_such_libc_function_vmm"))
                .isInstanceOf(UnsatisfiedLinkError.class)
                .hasMessage("libc has no no_such_libc_function_vmm");
        assertThat(Downcalls.strerror(ENOENT)).isEqualTo("No such file or directory");
    }
}
