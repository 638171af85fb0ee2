package vmm.vfiouser.internal.server;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.Arrays;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.linux.Native;

/**
 * The interrupt controller of the served function's private bus: it turns
 * what the function raises into writes to the client's eventfds. MSI-X
 * vector {@code v} arrives as an MSI whose data is {@code v} (the server
 * programs its own MSI-X table that way, see {@link ServedFunction}); INTx
 * is level-triggered and, as VFIO's, masks itself when it fires until the
 * client unmasks it. The descriptors are owned here and closed on
 * {@link #closeAll()}. Thread-safe: device threads signal while the
 * connection thread reconfigures.
 */
final class ClientInterrupts implements IrqChip {
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");

    private final String owner;
    private final int[] msix;
    private int intxFd = -1;
    private boolean intxLevel, intxMasked;
    private boolean msixActive;
    private long signalled, dropped;
    private boolean warned;

    ClientInterrupts(String owner, int msixVectors) {
        this.owner = owner;
        this.msix = new int[msixVectors];
        Arrays.fill(msix, -1);
    }

    @Override
    public synchronized void setLevel(int gsi, boolean level) {
        intxLevel = level;
        if (level && !intxMasked) fireIntxLocked();
    }

    private void fireIntxLocked() {
        if (intxFd < 0) return;
        signal(intxFd);
        intxMasked = true; // VFIO_IRQ_INFO_AUTOMASKED: the client's UNMASK re-arms it
    }

    @Override
    public synchronized void signalMsi(MsiMessage message) {
        int v = message.data();
        if (!msixActive || v < 0 || v >= msix.length || msix[v] < 0) {
            dropped++;
            return;
        }
        signal(msix[v]);
    }

    private void signal(int fd) {
        try {
            Native.signal(fd);
            signalled++;
        } catch (IOException e) {
            dropped++;
            if (!warned) {
                warned = true;
                LOG.log(Level.WARNING, "vfio-user {0}: cannot signal the client''s eventfd: {1}", owner, e.getMessage());
            }
        }
    }

    /** Installs (or with -1 removes) the eventfd of MSI-X vector {@code v}, closing the one it replaces. */
    synchronized void setMsix(int v, int fd) {
        Native.close(msix[v]);
        msix[v] = fd;
    }

    synchronized boolean anyMsix() {
        for (int f : msix) if (f >= 0) return true;
        return false;
    }

    /** Whether MSI-X messages are routed (the server's own MSI-X is enabled). */
    synchronized void msixActive(boolean active) {
        msixActive = active;
    }

    /** Signals vector {@code v}'s eventfd as if the device had (a client's TRIGGER with DATA_NONE/BOOL). */
    synchronized void triggerMsix(int v) {
        if (msix[v] >= 0) signal(msix[v]);
    }

    synchronized void setIntx(int fd) {
        Native.close(intxFd);
        intxFd = fd;
        intxMasked = false;
        if (intxLevel) fireIntxLocked();
    }

    synchronized void maskIntx(boolean masked) {
        intxMasked = masked;
        if (!masked && intxLevel) fireIntxLocked();
    }

    synchronized void triggerIntx() {
        if (intxFd >= 0) signal(intxFd);
    }

    /** Eventfd writes done and interrupts dropped (no eventfd, vector out of range) so far. */
    synchronized long[] counts() {
        return new long[] {signalled, dropped};
    }

    /** Closes every eventfd: the client is gone. */
    synchronized void closeAll() {
        for (int i = 0; i < msix.length; i++) setMsix(i, -1);
        Native.close(intxFd);
        intxFd = -1;
        intxMasked = false;
        msixActive = false;
    }
}
