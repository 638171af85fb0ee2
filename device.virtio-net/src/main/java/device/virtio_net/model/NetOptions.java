package device.virtio_net.model;

import java.util.Map;

import device.virtio_net.backend.BackendSpec;
import device.virtio_net.protocol.MacAddress;
import vmm.core.device.DeviceContext;

/**
 * A virtio-net instance's configuration, read and checked before the guest
 * starts. Keys (shared by every implementation, so a swap sees the same
 * device): {@code tap=NAME} or {@code dgram=PATH,peer=PATH} (the back end),
 * {@code mac=52:54:00:12:34:56}, {@code mtu=1500}, {@code queues=1} (queue
 * pairs), {@code offload=true|false}.
 *
 * @param offload whether to offer checksum/segmentation offloads the back end can carry
 */
public record NetOptions(MacAddress mac, int mtu, int queuePairs, boolean offload, BackendSpec backend) {
    public static final int MIN_MTU = 68, MAX_MTU = 65535, MAX_QUEUE_PAIRS = 16;
    /** Descriptors per queue offered to the driver. */
    public static final int QUEUE_SIZE = 256;

    /**
     * @param offloadDefault the implementation's default for {@code offload}
     * @param maxPairs       the most queue pairs the implementation serves
     * @throws IllegalArgumentException naming the key of a missing or bad value
     */
    public static NetOptions parse(DeviceContext ctx, boolean offloadDefault, int maxPairs) {
        String who = "device " + ctx.instanceId() + ": ";
        Map<String, Object> config = ctx.configuration();
        MacAddress mac;
        Object m = config.get("mac");
        if (m == null) {
            mac = defaultMac(ctx.instanceId());
        } else {
            try {
                mac = MacAddress.parse(String.valueOf(m));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(who + "mac=" + m + " is not a MAC address (six hex octets, aa:bb:cc:dd:ee:ff)");
            }
            if (mac.isMulticast() || mac.value() == 0)
                throw new IllegalArgumentException(who + "mac=" + m + " is a multicast or zero address; a card needs a unicast one");
        }
        long mtu = ctx.longProperty("mtu", 1500);
        if (mtu < MIN_MTU || mtu > MAX_MTU) throw new IllegalArgumentException(who + "mtu must be " + MIN_MTU + ".." + MAX_MTU + ", was " + mtu);
        long pairs = ctx.longProperty("queues", 1);
        if (pairs < 1 || pairs > maxPairs)
            throw new IllegalArgumentException(who + "queues must be 1.." + maxPairs + " for this implementation, was " + pairs);
        boolean offload = bool(who, config, "offload", offloadDefault);
        return new NetOptions(mac, (int) mtu, (int) pairs, offload, BackendSpec.parse(ctx.instanceId(), config));
    }

    private static boolean bool(String who, Map<String, Object> config, String key, boolean fallback) {
        Object v = config.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        return switch (String.valueOf(v).trim().toLowerCase()) {
            case "true", "on", "yes", "1" -> true;
            case "false", "off", "no", "0" -> false;
            default -> throw new IllegalArgumentException(who + key + "=" + v + " must be true or false");
        };
    }

    /** A stable locally administered address from the instance name, in QEMU's 52:54:00 range. */
    static MacAddress defaultMac(String instanceId) {
        int h = instanceId.hashCode();
        return new MacAddress(0x5254_0000_0000L | (h & 0xff_ffffL));
    }
}
