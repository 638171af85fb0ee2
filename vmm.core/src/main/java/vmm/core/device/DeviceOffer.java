package vmm.core.device;

import java.util.Collection;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;

/**
 * One {@link DeviceProvider} service as a component that chooses between providers sees it, and
 * the one rule every such component chooses by, so a device instance, a vhost-user server and a
 * vfio-user server given the same type serve the same implementation.
 *
 * @param provider       the service object
 * @param type           its {@value DeviceProvider#TYPE} property
 * @param implementation its {@value DeviceProvider#IMPLEMENTATION} property
 * @param ranking        its {@code service.ranking} (0 when absent or not an Integer)
 * @param serviceId      its {@code service.id}
 */
public record DeviceOffer(DeviceProvider provider, String type, String implementation, int ranking, long serviceId) {
    private static final Comparator<DeviceOffer> PREFERENCE = Comparator.comparingInt(DeviceOffer::ranking)
            .thenComparing(DeviceOffer::isReference)
            .thenComparing(Comparator.comparingLong(DeviceOffer::serviceId).reversed());

    /** The offer of {@code provider} registered with {@code properties} (its service properties). */
    public static DeviceOffer of(DeviceProvider provider, Map<String, ?> properties) {
        Object ranking = properties.get("service.ranking");
        Object id = properties.get("service.id");
        return new DeviceOffer(provider, String.valueOf(properties.get(DeviceProvider.TYPE)),
                String.valueOf(properties.get(DeviceProvider.IMPLEMENTATION)), ranking instanceof Integer r ? r : 0,
                id instanceof Long l ? l : -1);
    }

    /** Whether this is the type's reference implementation: the one named as the type itself. */
    public boolean isReference() {
        return implementation.equals(type);
    }

    /**
     * The offer to serve {@code type} with: the one named {@code wanted} when that is not null; otherwise
     * the highest {@code service.ranking}, then the type's reference implementation (named as the type,
     * as {@code virtio-net} is for virtio-net next to viona), then the oldest service. Empty when no offer
     * fits. Pure; the caller synchronizes the collection.
     */
    public static Optional<DeviceOffer> choose(Collection<DeviceOffer> offers, String type, String wanted) {
        return offers.stream()
                .filter(o -> o.type.equals(type))
                .filter(o -> wanted == null || wanted.equals(o.implementation))
                .max(PREFERENCE);
    }
}
