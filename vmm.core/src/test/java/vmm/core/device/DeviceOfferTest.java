package vmm.core.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** Which implementation a type is served by when several bundles offer one. */
class DeviceOfferTest {
    private static final DeviceProvider NONE = context -> {
        throw new UnsupportedOperationException();
    };

    private static DeviceOffer offer(String type, String implementation, long serviceId, Integer ranking) {
        Map<String, Object> p = new java.util.HashMap<>(Map.of(DeviceProvider.TYPE, type,
                DeviceProvider.IMPLEMENTATION, implementation, "service.id", serviceId));
        if (ranking != null) p.put("service.ranking", ranking);
        return DeviceOffer.of(NONE, p);
    }

    @Test
    void theTypesOwnImplementationIsTheDefaultEvenWhenAnotherRegisteredFirst() {
        List<DeviceOffer> offers = List.of(offer("virtio-net", "viona", 3, null), offer("virtio-net", "virtio-net", 9, null));

        assertThat(DeviceOffer.choose(offers, "virtio-net", null)).get()
                .extracting(DeviceOffer::implementation).isEqualTo("virtio-net");
    }

    @Test
    void aNamedImplementationIsServedAndNothingElse() {
        List<DeviceOffer> offers = List.of(offer("virtio-net", "viona", 3, null), offer("virtio-net", "virtio-net", 9, null));

        assertThat(DeviceOffer.choose(offers, "virtio-net", "viona")).get()
                .extracting(DeviceOffer::implementation).isEqualTo("viona");
        assertThat(DeviceOffer.choose(offers, "virtio-net", "vhost-net")).isEmpty();
    }

    @Test
    void aHigherServiceRankingWinsOverTheTypesOwnName() {
        List<DeviceOffer> offers = List.of(offer("virtio-net", "virtio-net", 3, null), offer("virtio-net", "viona", 9, 10));

        assertThat(DeviceOffer.choose(offers, "virtio-net", null)).get()
                .extracting(DeviceOffer::implementation).isEqualTo("viona");
    }

    @Test
    void withoutRankingOrTheTypesNameTheOldestServiceIsServed() {
        List<DeviceOffer> offers = List.of(offer("virtio-blk", "b", 12, null), offer("virtio-blk", "a", 5, null),
                offer("virtio-rng", "virtio-rng", 1, null));

        assertThat(DeviceOffer.choose(offers, "virtio-blk", null)).get()
                .extracting(DeviceOffer::serviceId).isEqualTo(5L);
        assertThat(DeviceOffer.choose(offers, "virtio-gpu", null)).isEmpty();
    }

    @Test
    void aRankingThatIsNotAnIntegerCountsAsNoneAsOsgiSays() {
        DeviceOffer odd = DeviceOffer.of(NONE, Map.of(DeviceProvider.TYPE, "t", DeviceProvider.IMPLEMENTATION, "i",
                "service.id", 4L, "service.ranking", "99"));

        assertThat(odd.ranking()).isZero();
        assertThat(odd.isReference()).isFalse();
    }
}
