package device.uart.internal;

import java.util.List;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import device.uart.backend.Backend;
import device.uart.backend.RxSink;
import device.uart.model.UartModel;
import device.uart.model.UartRegisters;
import vmm.core.bus.IoHandler;
import vmm.core.device.BusDevice;
import vmm.core.device.BusRange;
import vmm.core.device.DeviceState;
import vmm.core.irq.InterruptLine;

/**
 * One 16550A on the machine: the pure {@link UartModel} behind a lock, seen
 * by vCPUs as eight I/O ports ({@link IoHandler}) and by its back end as a
 * receiver ({@link RxSink}). Every register access, delivery and lifecycle
 * step holds the one lock, so the model sees a single serial order of
 * events; the interrupt line is set from the model's INTRPT output before
 * the lock is released, so the line's level changes in that same order.
 *
 * <p>Transmission: after each guest access the bytes the guest wrote to THR
 * are taken from the model and handed to the back end, which never blocks
 * (see {@link Backend}); the transmitter is therefore empty again, and THRE
 * raised, by the time the vCPU's OUT returns. While paused the bytes stay in
 * the model's transmitter FIFO (and are saved with it); they go out on resume.
 *
 * <p>Reception: the back end delivers only while running, only as much as
 * the receiver has room for, and waits otherwise (see {@link RxSink}).
 *
 * <p>The back end belongs to whoever created this UART: {@link #stop()}
 * detaches from it but does not close it, so it can be handed to a successor.
 * So does the interrupt line: stop leaves its level alone, for a successor
 * restored from this UART's state to take over (the owner lowers it when the
 * device goes away).
 *
 * <p>As a {@link BusDevice} (made by {@link UartProvider} for a device
 * instance) it decodes one range, its eight registers.
 */
public final class Uart implements IoHandler, BusDevice, RxSink {
    private enum Phase { CREATED, RUNNING, PAUSED, STOPPED }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private final UartModel model;
    private final InterruptLine irq;
    private final Backend backend;
    private final byte[] txBuf = new byte[UartRegisters.FIFO_SIZE];
    /** The first of its eight ports, or -1 for a UART wired by hand (not a device instance). */
    private final int port;
    /** Runs once the UART has stopped: lets its owner release the back end. */
    private final Runnable stopped;
    private Phase phase = Phase.CREATED;

    /**
     * A UART its creator wires to a bus by hand.
     *
     * @param model   the register model, fresh or restored; this UART owns it from now on
     * @param irq     the line the UART's INTRPT output drives
     * @param backend the serial line's far end; attached on {@link #start()}
     */
    public Uart(UartModel model, InterruptLine irq, Backend backend) {
        this(model, irq, backend, -1, () -> { });
    }

    /**
     * A UART for a device instance, decoding ports {@code port .. port + 7}; {@code stopped} runs once it stopped.
     */
    public Uart(UartModel model, InterruptLine irq, Backend backend, int port, Runnable stopped) {
        this.model = model;
        this.irq = irq;
        this.backend = backend;
        this.port = port;
        this.stopped = stopped;
    }

    @Override
    public List<BusRange> ranges() {
        if (port < 0) throw new IllegalStateException("this UART is wired by hand, not a device instance: it has no port");
        return List.of(BusRange.ports("16550a", port, UartRegisters.PORT_COUNT));
    }

    @Override
    public long read(int range, long offset, int size) {
        return read(offset, size);
    }

    @Override
    public void write(int range, long offset, int size, long value) {
        write(offset, size, value);
    }

    // ---- vCPU side -----------------------------------------------------

    /**
     * An access wider than a byte reaches consecutive registers, lowest
     * first, as the ISA bus splits a 16- or 32-bit cycle to an 8-bit device.
     */
    @Override
    public long read(long offset, int size) {
        lock.lock();
        try {
            long v = 0;
            for (int i = 0; i < size; i++) v |= (long) model.read((int) offset + i) << (8 * i);
            afterAccess();
            return v;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        lock.lock();
        try {
            for (int i = 0; i < size; i++) model.write((int) offset + i, (int) (value >>> (8 * i)) & 0xff);
            afterAccess();
        } finally {
            lock.unlock();
        }
    }

    private void afterAccess() {
        if (phase == Phase.RUNNING) drainTx();
        updateIrq();
        if (model.rxRoom() > 0) room.signalAll();
    }

    private void drainTx() {
        int n;
        while ((n = model.takeTransmitted(txBuf)) > 0) backend.write(txBuf, 0, n);
    }

    private void updateIrq() {
        if (model.interruptPending()) irq.raise();
        else irq.lower();
    }

    // ---- back-end side -------------------------------------------------

    @Override
    public int awaitRoom() throws InterruptedException {
        lock.lockInterruptibly();
        try {
            while (true) {
                if (phase == Phase.STOPPED) return 0;
                if (phase == Phase.RUNNING) {
                    int r = model.rxRoom();
                    if (r > 0) return r;
                }
                room.await();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int deliver(byte[] b, int off, int len) {
        lock.lock();
        try {
            if (phase != Phase.RUNNING) return 0;
            int n = Math.min(len, model.rxRoom());
            for (int i = 0; i < n; i++) model.receive(b[off + i] & 0xff, 0);
            if (n == len && n > 0) model.lineIdle();
            updateIrq();
            return n;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A break from the peer (a telnet BREAK, a console's SysRq): one NUL
     * with BI, if the receiver has room; returns whether it was taken.
     */
    public boolean deliverBreak() {
        lock.lock();
        try {
            if (phase != Phase.RUNNING || model.rxRoom() == 0) return false;
            model.receiveBreak();
            model.lineIdle();
            updateIrq();
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---- lifecycle -----------------------------------------------------

    @Override
    public void start() {
        lock.lock();
        try {
            if (phase != Phase.CREATED) throw new IllegalStateException("UART already started");
            phase = Phase.RUNNING;
            drainTx();
            updateIrq();
        } finally {
            lock.unlock();
        }
        backend.attach(this);
    }

    /** Takes no more input and sends no more output; what the guest writes meanwhile stays in the transmitter FIFO. */
    @Override
    public void pause() {
        lock.lock();
        try {
            if (phase == Phase.RUNNING) phase = Phase.PAUSED;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void resume() {
        lock.lock();
        try {
            if (phase != Phase.PAUSED) return;
            phase = Phase.RUNNING;
            drainTx();
            updateIrq();
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void reset() {
        lock.lock();
        try {
            model.reset();
            updateIrq();
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Detaches from the back end (which stays open, its unread input kept) and leaves the line as it is: a
     * successor restored from this UART's state takes both over; the owner lowers the line when the device goes.
     */
    @Override
    public void stop() {
        lock.lock();
        try {
            if (phase == Phase.STOPPED) return;
            phase = Phase.STOPPED;
            room.signalAll();
        } finally {
            lock.unlock();
        }
        backend.detach(this);
        stopped.run();
    }

    /** Called while paused; includes both FIFOs and the pending-interrupt latches. */
    @Override
    public DeviceState saveState() {
        lock.lock();
        try {
            return model.saveState();
        } finally {
            lock.unlock();
        }
    }

    /** Called before {@link #start()}; the line follows the restored state once started. */
    @Override
    public void restoreState(DeviceState state) {
        lock.lock();
        try {
            model.restoreState(state);
        } finally {
            lock.unlock();
        }
    }

    // ---- diagnostics ---------------------------------------------------

    /** Characters in the receiver FIFO now. */
    public int rxCount() {
        lock.lock();
        try {
            return model.rxCount();
        } finally {
            lock.unlock();
        }
    }

    /** Characters waiting in the transmitter FIFO now (nonzero only while paused). */
    public int txPending() {
        lock.lock();
        try {
            return model.txPending();
        } finally {
            lock.unlock();
        }
    }

    public Backend backend() {
        return backend;
    }

    @Override
    public String toString() {
        lock.lock();
        try {
            return model + " " + phase + " on " + backend.describe();
        } finally {
            lock.unlock();
        }
    }
}
