package device.virtio_net.protocol;

import java.util.List;

/**
 * The receive filter the driver sets through the control queue (section
 * 5.1.6.5.1 and 5.1.6.5.2): the RX mode switches and the MAC table. Decides
 * per received frame whether the guest gets it. Immutable; a change makes a
 * new filter, so the receive path reads one consistent filter per frame.
 *
 * <p>Before a driver with CTRL_RX says otherwise the device is promiscuous,
 * as the specification leaves it to the device and a driver without the
 * control queue has no way to ask for more.
 */
public record RxFilter(boolean promisc, boolean allMulti, boolean allUni, boolean noMulti, boolean noUni, boolean noBcast,
                       List<MacAddress> unicast, List<MacAddress> multicast) {
    /** The table size a driver may set; more entries are refused with VIRTIO_NET_ERR. */
    public static final int MAC_TABLE_ENTRIES = 64;

    public static final RxFilter DEFAULT = new RxFilter(true, false, false, false, false, false, List.of(), List.of());

    public RxFilter {
        unicast = List.copyOf(unicast);
        multicast = List.copyOf(multicast);
    }

    /** Whether a frame to {@code destination} reaches a guest whose own address is {@code own}. */
    public boolean accepts(MacAddress destination, MacAddress own) {
        if (promisc) return true;
        if (destination.isBroadcast()) return !noBcast;
        if (destination.isMulticast()) {
            if (noMulti) return false;
            return allMulti || multicast.contains(destination);
        }
        if (noUni) return false;
        return allUni || destination.equals(own) || unicast.contains(destination);
    }

    /** The destination address of an Ethernet frame (its first 6 bytes). */
    public static MacAddress destination(byte[] frame, int offset) {
        return MacAddress.of(frame, offset);
    }

    public RxFilter withMode(int command, boolean on) {
        return switch (command) {
            case VirtioNetSpec.VIRTIO_NET_CTRL_RX_PROMISC -> new RxFilter(on, allMulti, allUni, noMulti, noUni, noBcast, unicast, multicast);
            case VirtioNetSpec.VIRTIO_NET_CTRL_RX_ALLMULTI -> new RxFilter(promisc, on, allUni, noMulti, noUni, noBcast, unicast, multicast);
            case VirtioNetSpec.VIRTIO_NET_CTRL_RX_ALLUNI -> new RxFilter(promisc, allMulti, on, noMulti, noUni, noBcast, unicast, multicast);
            case VirtioNetSpec.VIRTIO_NET_CTRL_RX_NOMULTI -> new RxFilter(promisc, allMulti, allUni, on, noUni, noBcast, unicast, multicast);
            case VirtioNetSpec.VIRTIO_NET_CTRL_RX_NOUNI -> new RxFilter(promisc, allMulti, allUni, noMulti, on, noBcast, unicast, multicast);
            case VirtioNetSpec.VIRTIO_NET_CTRL_RX_NOBCAST -> new RxFilter(promisc, allMulti, allUni, noMulti, noUni, on, unicast, multicast);
            default -> throw new IllegalArgumentException("unknown RX mode command " + command);
        };
    }

    public RxFilter withTable(List<MacAddress> uni, List<MacAddress> multi) {
        return new RxFilter(promisc, allMulti, allUni, noMulti, noUni, noBcast, uni, multi);
    }

    /** The mode switches as bits (bit n = RX command n), for saved state. */
    public int modeBits() {
        return (promisc ? 1 : 0) | (allMulti ? 2 : 0) | (allUni ? 4 : 0) | (noMulti ? 8 : 0) | (noUni ? 16 : 0) | (noBcast ? 32 : 0);
    }

    public static RxFilter of(int modeBits, List<MacAddress> uni, List<MacAddress> multi) {
        return new RxFilter((modeBits & 1) != 0, (modeBits & 2) != 0, (modeBits & 4) != 0, (modeBits & 8) != 0,
                (modeBits & 16) != 0, (modeBits & 32) != 0, uni, multi);
    }
}
