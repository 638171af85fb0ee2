package vmm.kvm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import vmm.kvm.internal.linux.Sys;

/**
 * Gets a thread out of a blocking {@code KVM_RUN}. An ignored signal does not
 * interrupt the ioctl, so {@code SIGRTMIN} gets a handler; the handler is
 * libc's {@code sched_yield}, a native no-op, because a Java upcall must not
 * run in signal context. The JVM's own signals are left alone.
 */
final class Kicker {
    static final int SIGNAL;
    private static final MemorySegment SIGSET;
    private static final ThreadLocal<Boolean> PREPARED = ThreadLocal.withInitial(() -> false);

    static {
        SIGNAL = Sys.sigrtmin();
        Arena global = Arena.global();
        SIGSET = global.allocate(Sys.SIGSET_SIZE, 8);
        Sys.sigsetOf(SIGSET, SIGNAL);
        try (Arena a = Arena.ofConfined()) {
            VarHandle handler = Sys.SIGACTION_LAYOUT.varHandle(PathElement.groupElement("sa_handler"));
            MemorySegment old = a.allocate(Sys.SIGACTION_LAYOUT);
            Sys.sigaction(SIGNAL, MemorySegment.NULL, old);
            long current = ((MemorySegment) handler.get(old, 0L)).address();
            // SIG_DFL (0) would kill the process and SIG_IGN (1) would not interrupt; any other handler interrupts too.
            if (current == 0 || current == 1) {
                MemorySegment act = a.allocate(Sys.SIGACTION_LAYOUT);
                handler.set(act, 0L, Sys.symbol("sched_yield"));
                Sys.sigaction(SIGNAL, act, MemorySegment.NULL);
            }
        }
    }

    private Kicker() {}

    /** Unblocks the kick signal for the calling thread, once per thread. */
    static void prepareCurrentThread() {
        if (!PREPARED.get()) {
            Sys.unblockSignals(SIGSET);
            PREPARED.set(true);
        }
    }

    /** Signals {@code pthread}; a thread that has ended is ignored (ESRCH). */
    static void kick(long pthread) {
        Sys.pthreadKill(pthread, SIGNAL);
    }
}
