package vmm.kvm.internal;

import vmm.core.hypervisor.EventFd;
import vmm.kvm.internal.linux.Sys;

/** A non-blocking, close-on-exec Linux eventfd. */
final class KvmEventFd implements EventFd {
    private volatile int fd;

    KvmEventFd() {
        fd = Sys.eventfd(0, Sys.EFD_CLOEXEC | Sys.EFD_NONBLOCK);
    }

    @Override
    public int fd() {
        return fd;
    }

    private int open() {
        int f = fd;
        if (f < 0) throw new IllegalStateException("eventfd is closed");
        return f;
    }

    @Override
    public void signal() {
        Sys.writeCounter(open(), 1);
    }

    @Override
    public long poll() {
        long v = Sys.readCounter(open());
        return v < 0 ? 0 : v;
    }

    @Override
    public synchronized void close() {
        if (fd < 0) return;
        Sys.close(fd);
        fd = -1;
    }

    @Override
    public String toString() {
        return "eventfd " + fd;
    }
}
