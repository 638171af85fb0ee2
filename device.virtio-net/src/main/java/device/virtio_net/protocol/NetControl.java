package device.virtio_net.protocol;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The device's control plane: its MAC address, link status, receive
 * filter and number of active queue pairs, and the control-queue commands
 * that change them (section 5.1.6.5). Pure logic: a command is bytes in,
 * an ack out. Malformed or unnegotiated commands are answered
 * {@link VirtioNetSpec#VIRTIO_NET_ERR}, counted, and change nothing.
 *
 * <p>Thread-safe: the control queue, the receive path (which reads the
 * filter) and config reads may run on different threads.
 */
public final class NetControl {
    private final int maxPairs;
    private final NetCounters counters;
    private long negotiated;
    private MacAddress mac;
    private int status = VIRTIO_NET_S_LINK_UP;
    private volatile RxFilter filter = RxFilter.DEFAULT;
    private int pairs = 1;

    public NetControl(MacAddress mac, int maxPairs, NetCounters counters) {
        this.mac = mac;
        this.maxPairs = maxPairs;
        this.counters = counters;
    }

    /** The features the driver accepted; commands for features it did not accept are refused. */
    public synchronized void setNegotiated(long features) {
        this.negotiated = features;
    }

    public synchronized MacAddress mac() { return mac; }
    public synchronized int status() { return status; }
    public synchronized int activePairs() { return pairs; }
    public RxFilter filter() { return filter; }

    /** Whether the guest should get a frame sent to {@code destination}. Lock-free. */
    public boolean accepts(MacAddress destination) {
        RxFilter f = filter;
        if (f.promisc()) return true;
        MacAddress own;
        synchronized (this) {
            own = mac;
        }
        return f.accepts(destination, own);
    }

    /**
     * Asks the driver to announce itself (gratuitous ARP etc.), as after a
     * move: sets VIRTIO_NET_S_ANNOUNCE. Returns whether it did (the driver
     * negotiated GUEST_ANNOUNCE), so the caller raises a config change.
     */
    public synchronized boolean requestAnnounce() {
        if (!has(VIRTIO_NET_F_GUEST_ANNOUNCE)) return false;
        status |= VIRTIO_NET_S_ANNOUNCE;
        return true;
    }

    /** Power-on values, as a device reset: filter, pairs and announce request go; MAC and link stay. */
    public synchronized void reset(MacAddress configured) {
        mac = configured;
        status = VIRTIO_NET_S_LINK_UP;
        filter = RxFilter.DEFAULT;
        pairs = 1;
        negotiated = 0;
    }

    /** The most queue pairs the driver may enable. */
    public int maxPairs() {
        return maxPairs;
    }

    /** Adopts saved values, checked by the caller ({@code pairs} in 1..{@link #maxPairs()}). */
    public synchronized void restore(MacAddress mac, int status, RxFilter filter, int pairs) {
        this.mac = mac;
        this.status = status;
        this.filter = filter;
        this.pairs = Math.max(1, Math.min(pairs, maxPairs));
    }

    /**
     * Executes one command: {@code data} is what follows the class and
     * command bytes in the driver's readable buffers.
     *
     * @return {@link VirtioNetSpec#VIRTIO_NET_OK} or {@link VirtioNetSpec#VIRTIO_NET_ERR}
     */
    public synchronized int execute(int cls, int cmd, byte[] data) {
        boolean ok = switch (cls) {
            case VIRTIO_NET_CTRL_RX -> rxMode(cmd, data);
            case VIRTIO_NET_CTRL_MAC -> switch (cmd) {
                case VIRTIO_NET_CTRL_MAC_TABLE_SET -> macTable(data);
                case VIRTIO_NET_CTRL_MAC_ADDR_SET -> macAddress(data);
                default -> false;
            };
            case VIRTIO_NET_CTRL_ANNOUNCE -> announceAck(cmd, data);
            case VIRTIO_NET_CTRL_MQ -> queuePairs(cmd, data);
            default -> false;
        };
        if (!ok) counters.increment(NetCounters.Counter.CTRL_ERRORS);
        return ok ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
    }

    private boolean rxMode(int cmd, byte[] data) {
        if (!has(VIRTIO_NET_F_CTRL_RX) || cmd > VIRTIO_NET_CTRL_RX_NOBCAST || data.length != 1) return false;
        filter = filter.withMode(cmd, data[0] != 0);
        return true;
    }

    /** Two tables, unicast then multicast, each a le32 count and that many addresses, and nothing after. */
    private boolean macTable(byte[] data) {
        if (!has(VIRTIO_NET_F_CTRL_RX)) return false;
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        List<List<MacAddress>> tables = new ArrayList<>();
        boolean[] overflow = new boolean[2];
        for (int t = 0; t < 2; t++) {
            if (b.remaining() < 4) return false;
            long n = Integer.toUnsignedLong(b.getInt());
            if (n * 6 > b.remaining()) return false;
            List<MacAddress> table = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                byte[] m = new byte[6];
                b.get(m);
                if (table.size() < RxFilter.MAC_TABLE_ENTRIES) table.add(MacAddress.of(m, 0));
                else overflow[t] = true;
            }
            tables.add(table);
        }
        if (b.hasRemaining()) return false;
        RxFilter f = filter.withTable(tables.get(0), tables.get(1));
        // A table too long to hold: pass that whole class rather than drop frames the guest wants.
        if (overflow[0]) f = f.withMode(VIRTIO_NET_CTRL_RX_ALLUNI, true);
        if (overflow[1]) f = f.withMode(VIRTIO_NET_CTRL_RX_ALLMULTI, true);
        filter = f;
        return true;
    }

    private boolean macAddress(byte[] data) {
        if (!has(VIRTIO_NET_F_CTRL_MAC_ADDR) || data.length != 6) return false;
        MacAddress m = MacAddress.of(data, 0);
        if (m.isMulticast() || m.value() == 0) return false;
        mac = m;
        return true;
    }

    private boolean announceAck(int cmd, byte[] data) {
        if (!has(VIRTIO_NET_F_GUEST_ANNOUNCE) || cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK || data.length != 0) return false;
        status &= ~VIRTIO_NET_S_ANNOUNCE;
        return true;
    }

    private boolean queuePairs(int cmd, byte[] data) {
        if (!has(VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || data.length != 2) return false;
        int n = (data[0] & 0xff) | (data[1] & 0xff) << 8;
        if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > maxPairs) return false;
        pairs = n;
        return true;
    }

    private boolean has(int bit) {
        return (negotiated & (1L << bit)) != 0;
    }
}
