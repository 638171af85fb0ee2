package vmm.core.hypervisor;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.memory.GuestMemory;

/**
 * Runs a VM's vCPUs, one platform thread each, sending their port and MMIO
 * accesses to the machine's buses, until the guest stops, fails, or
 * {@link #stop()} is called. A guest failure or an exception on a vCPU thread
 * stops the whole VM with a {@link StopReport} naming the vCPU, its registers
 * and the instruction bytes at RIP; it never escapes the thread.
 *
 * <p>Lives in the core, not in a back end, because it only needs the SPI:
 * every back end gets the same threading, pause and failure handling.
 * Thread-safe; {@link #pause()}, {@link #resume()} and {@link #stop()} are for
 * threads other than the vCPUs' own.
 */
public final class VmRunner {
    private static final System.Logger LOG = System.getLogger("vmm.hypervisor");
    private static final int INSTRUCTION_BYTES = 16;

    public enum State { NEW, RUNNING, PAUSED, STOPPED }

    private final String name;
    private final List<Vcpu> vcpus;
    private final IoPortBus ports;
    private final MmioBus mmio;
    private final GuestMemory memory;
    private final Thread[] threads;

    private final Object lock = new Object();
    private State state = State.NEW;
    private boolean pauseRequested, stopRequested;
    private int parked, live, halted;
    private StopReport report;

    /**
     * @param name   used for thread names and logs
     * @param vcpus  the vCPUs, already created and set up; run in the order given
     * @param memory for reading the instruction bytes at RIP into a report
     */
    public VmRunner(String name, List<Vcpu> vcpus, IoPortBus ports, MmioBus mmio, GuestMemory memory) {
        if (vcpus.isEmpty()) throw new IllegalArgumentException("a VM needs at least one vCPU");
        this.name = name;
        this.vcpus = List.copyOf(vcpus);
        this.ports = ports;
        this.mmio = mmio;
        this.memory = memory;
        this.threads = new Thread[this.vcpus.size()];
    }

    /** Starts one thread per vCPU. @throws IllegalStateException if already started */
    public void start() {
        synchronized (lock) {
            if (state != State.NEW) throw new IllegalStateException(name + " was already started");
            state = State.RUNNING;
            live = vcpus.size();
            for (int i = 0; i < threads.length; i++) {
                Vcpu v = vcpus.get(i);
                // Daemon: a guest spinning forever must not keep the JVM alive.
                threads[i] = Thread.ofPlatform().name(name + "-vcpu-" + v.index()).daemon(true).unstarted(() -> loop(v));
            }
        }
        for (Thread t : threads) t.start();
    }

    /**
     * Takes every vCPU out of guest code and holds it, returning once all are
     * held (or have ended), so vCPU state can be read or devices paused. Does
     * nothing unless running.
     */
    public void pause() throws InterruptedException {
        synchronized (lock) {
            if (state != State.RUNNING) return;
            pauseRequested = true;
        }
        for (Vcpu v : vcpus) v.kick();
        synchronized (lock) {
            while (parked < live && state != State.STOPPED) lock.wait();
            if (state != State.STOPPED) state = State.PAUSED;
        }
    }

    /**
     * For a vCPU thread that has just carried out a guest's reset or power-off
     * write: from now on no vCPU, this one included, enters guest code again
     * until {@link #pause()} and {@link #resume()} (or {@link #stop()}) follow,
     * so the guest cannot run past the write that ended it. Returns at once;
     * the state stays {@link State#RUNNING} until a pause completes. Does
     * nothing unless running.
     */
    public void hold() {
        synchronized (lock) {
            if (state != State.RUNNING) return;
            pauseRequested = true;
        }
        // The asking vCPU's own kick ends its run right after the access that asked.
        for (Vcpu v : vcpus) v.kick();
    }

    /** Lets paused vCPUs run again. Does nothing unless paused. */
    public void resume() {
        synchronized (lock) {
            if (state != State.PAUSED) return;
            pauseRequested = false;
            state = State.RUNNING;
            lock.notifyAll();
        }
    }

    /**
     * Stops every vCPU and waits for their threads to end; the report's cause is
     * {@link StopReport.Cause#REQUESTED} unless the VM had already stopped. Safe to
     * call more than once, and before {@link #start()}.
     */
    public StopReport stop() throws InterruptedException {
        synchronized (lock) {
            if (state == State.NEW) {
                state = State.STOPPED;
                report = requested();
                lock.notifyAll();
                return report;
            }
            stopRequested = true;
            lock.notifyAll();
        }
        for (Vcpu v : vcpus) v.kick();
        for (Thread t : threads) {
            if (t != null && t != Thread.currentThread()) t.join();
        }
        return awaitStop();
    }

    /** Waits until the VM has stopped, by itself or by {@link #stop()}, and returns why. */
    public StopReport awaitStop() throws InterruptedException {
        synchronized (lock) {
            while (state != State.STOPPED) lock.wait();
            return report;
        }
    }

    /** Like {@link #awaitStop()} but gives up after {@code timeout}, returning empty. */
    public Optional<StopReport> awaitStop(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (state != State.STOPPED) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return Optional.empty();
                lock.wait(Math.max(1, left / 1_000_000));
            }
            return Optional.of(report);
        }
    }

    public State state() {
        synchronized (lock) {
            return state;
        }
    }

    /** The stop report once stopped. */
    public Optional<StopReport> report() {
        synchronized (lock) {
            return Optional.ofNullable(report);
        }
    }

    private void loop(Vcpu vcpu) {
        boolean haltedHere = false;
        try {
            while (true) {
                if (!waitWhilePaused()) break;
                VcpuExit exit;
                try {
                    exit = vcpu.run(ports, mmio);
                } catch (Throwable t) {
                    fail(vcpu, null, t);
                    break;
                }
                if (exit instanceof VcpuExit.Interrupted) continue;
                if (exit instanceof VcpuExit.Halted) {
                    haltedHere = true;
                    break;
                }
                // Anything else this loop cannot continue from, fatal or not.
                fail(vcpu, exit, null);
                break;
            }
        } finally {
            threadEnded(vcpu, haltedHere);
        }
    }

    /** Holds the thread while paused; false when it must end. */
    private boolean waitWhilePaused() {
        synchronized (lock) {
            while (pauseRequested && !stopRequested) {
                parked++;
                lock.notifyAll();
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    stopRequested = true;
                } finally {
                    parked--;
                }
            }
            return !stopRequested;
        }
    }

    private void fail(Vcpu vcpu, VcpuExit exit, Throwable error) {
        StopReport r = failureReport(vcpu, exit, error);
        synchronized (lock) {
            if (report != null || stopRequested) {
                // A stop already under way: this failure is probably its echo on another vCPU; log it only.
                LOG.log(Level.DEBUG, () -> name + ": after stop: " + r.describe());
                return;
            }
            report = r;
            stopRequested = true;
            lock.notifyAll();
        }
        LOG.log(Level.ERROR, () -> name + ": " + r.describe());
        for (Vcpu v : vcpus) {
            if (v != vcpu) v.kick();
        }
    }

    private void threadEnded(Vcpu vcpu, boolean wasHalted) {
        synchronized (lock) {
            live--;
            if (wasHalted) halted++;
            if (live == 0) {
                if (report == null) {
                    report = !stopRequested && halted == vcpus.size()
                            ? new StopReport(StopReport.Cause.ALL_HALTED, vcpu.index(), Optional.of(new VcpuExit.Halted()),
                                    Optional.empty(), Optional.empty(), Optional.empty(), OptionalLong.empty(), new byte[0])
                            : requested();
                }
                state = State.STOPPED;
            }
            lock.notifyAll();
        }
    }

    private static StopReport requested() {
        return new StopReport(StopReport.Cause.REQUESTED, -1, Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), OptionalLong.empty(), new byte[0]);
    }

    /** Collects what can be read of the failing vCPU; runs on its own thread, so its state is stable. */
    private StopReport failureReport(Vcpu vcpu, VcpuExit exit, Throwable error) {
        Optional<Registers> regs = Optional.empty();
        Optional<SpecialRegisters> sregs = Optional.empty();
        OptionalLong at = OptionalLong.empty();
        byte[] code = new byte[0];
        try {
            Registers r = vcpu.registers();
            regs = Optional.of(r);
            SpecialRegisters s = vcpu.specialRegisters();
            sregs = Optional.of(s);
            long linear = s.segment(SpecialRegisters.Seg.CS).base() + r.rip();
            at = vcpu.translate(linear);
            if (at.isPresent()) code = readUpTo(at.getAsLong(), INSTRUCTION_BYTES);
        } catch (RuntimeException e) {
            if (error == null) error = e;
            else error.addSuppressed(e);
        }
        return new StopReport(exit != null ? StopReport.Cause.GUEST_FAILURE : StopReport.Cause.ERROR, vcpu.index(),
                Optional.ofNullable(exit), Optional.ofNullable(error), regs, sregs, at, code);
    }

    /** Up to {@code max} bytes at {@code gpa}, fewer where RAM ends there. */
    private byte[] readUpTo(long gpa, int max) {
        for (int n = max; n > 0; n--) {
            if (memory.isValid(gpa, n)) {
                byte[] b = new byte[n];
                memory.read(gpa, b, 0, n);
                return b;
            }
        }
        return new byte[0];
    }
}
