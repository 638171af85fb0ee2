package vmm.emu.internal.vm;

import java.io.IOException;
import java.io.UncheckedIOException;

import vmm.core.hypervisor.EventFd;
import vmm.core.linux.Native;

/** A non-blocking Linux eventfd, as KVM's back end hands out, so peers and pollers can use its descriptor. */
final class EmuEventFd implements EventFd {
    private volatile int fd;

    EmuEventFd() {
        try {
            fd = Native.eventfd(true);
        } catch (IOException e) {
            throw new UncheckedIOException("creating an eventfd", e);
        }
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public void signal() {
        try {
            Native.signal(open());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public long poll() {
        try {
            long v = Native.drain(open());
            return v < 0 ? 0 : v;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private int open() {
        int f = fd;
        if (f < 0) throw new IllegalStateException("eventfd is closed");
        return f;
    }

    @Override
    public synchronized void close() {
        if (fd < 0) return;
        Native.close(fd);
        fd = -1;
    }
}
