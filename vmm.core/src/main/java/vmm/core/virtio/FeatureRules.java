package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.bit;

/**
 * Which feature bits the virtio-pci transport offers and accepts (virtio
 * 1.2 sections 3.1.1 and 6): pure functions of the device's and the
 * driver's feature sets.
 */
final class FeatureRules {
    /**
     * Feature bits the transport may pass through from the device: the
     * device-specific ranges 0..23 and 50..63, and the reserved bits that
     * need nothing of the transport (ANY_LAYOUT, the two ring features this
     * library implements, IN_ORDER and ORDER_PLATFORM, which constrain only
     * the device). Bits such as ACCESS_PLATFORM, RING_PACKED,
     * NOTIFICATION_DATA or RING_RESET would need transport support and are
     * never offered.
     */
    static final long PASS_THROUGH_FEATURES = (bit(24) - 1) | (-1L << 50) | bit(27)
            | bit(VirtioFeatures.RING_INDIRECT_DESC) | bit(VirtioFeatures.RING_EVENT_IDX) | bit(35) | bit(36);

    /** What a legacy driver can see and ask for: the low 32 bits. */
    static final long LEGACY_FEATURES = 0xffff_ffffL;

    private FeatureRules() {
    }

    /** The features offered to the driver for a device that has {@code deviceFeatures}; VERSION_1 always. */
    static long offered(long deviceFeatures) {
        return deviceFeatures & PASS_THROUGH_FEATURES | bit(VirtioFeatures.VERSION_1);
    }

    /** Why a modern driver's FEATURES_OK with {@code features} is refused, or null when it is accepted. */
    static String refusal(long features, long offered) {
        long unoffered = features & ~offered;
        if (unoffered != 0)
            return String.format("driver features 0x%x include 0x%x, which the device did not offer", features,
                    unoffered);
        if ((features & bit(VirtioFeatures.VERSION_1)) == 0)
            return String.format("driver features 0x%x lack VIRTIO_F_VERSION_1", features);
        return null;
    }
}
