package vmm.core.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The one provider-following rule of device instances and served devices: plug, swap, hold, attach. */
class ProviderFollowerTest {
    private final List<String> calls = new ArrayList<>();
    private boolean refuse;
    private final ProviderFollower follower = new ProviderFollower(System.getLogger("test"),
            new ProviderFollower.Target() {
        @Override public void plug(DeviceOffer offer) { calls.add("plug " + offer.implementation()); }
        @Override public void swapTo(DeviceOffer offer) {
            if (refuse) throw new IllegalArgumentException("refused");
            calls.add("swap " + offer.implementation());
        }
        @Override public void hold() { calls.add("hold"); }
    });

    private static final DeviceProvider PROVIDER = ctx -> { throw new UnsupportedOperationException(); };

    private static Map<String, Object> offer(String implementation, long id) {
        return Map.of(DeviceProvider.TYPE, "net", DeviceProvider.IMPLEMENTATION, implementation, "service.id", id);
    }

    @Test
    void plugsWithTheFirstProviderThenHoldsWhenItLeavesAndAttachesTheNextOne() {
        follower.configure("device t", "net", null);
        follower.add(PROVIDER, offer("a", 1));
        follower.remove(offer("a", 1));
        assertThat(follower.held()).isTrue();
        follower.add(PROVIDER, offer("b", 2));

        assertThat(calls).containsExactly("plug a", "hold", "swap b");
        assertThat(follower.serving().implementation()).isEqualTo("b");
        assertThat(follower.held()).isFalse();
    }

    @Test
    void swapsToTheOtherProviderWhenTheServingOneLeaves() {
        follower.configure("device t", "net", null);
        follower.add(PROVIDER, offer("a", 1));
        follower.add(PROVIDER, offer("b", 2));      // older a stays: no reason to move
        follower.remove(offer("a", 1));

        assertThat(calls).containsExactly("plug a", "swap b");
    }

    @Test
    void aNewlyNamedImplementationMovesTheDeviceAndAnotherTypeIsNeverChosen() {
        follower.add(PROVIDER, Map.of(DeviceProvider.TYPE, "blk", DeviceProvider.IMPLEMENTATION, "x",
                "service.id", 7L));
        follower.add(PROVIDER, offer("a", 1));
        follower.add(PROVIDER, offer("b", 2));
        follower.configure("device t", "net", null);
        follower.configure("device t", "net", "b");
        follower.configure("device t", "net", "x");   // no net named x: b keeps serving

        assertThat(calls).containsExactly("plug a", "swap b");
        assertThat(follower.serving().implementation()).isEqualTo("b");
    }

    @Test
    void aFailedSwapOffAProviderThatLeftHoldsTheDevice() {
        follower.configure("device t", "net", null);
        follower.add(PROVIDER, offer("a", 1));
        follower.add(PROVIDER, offer("b", 2));
        refuse = true;
        follower.remove(offer("a", 1));

        assertThat(calls).containsExactly("plug a", "hold");
        assertThat(follower.held()).isTrue();
        refuse = false;
        follower.add(PROVIDER, offer("c", 3));
        assertThat(calls).containsExactly("plug a", "hold", "swap b"); // b is older than c
    }

    @Test
    void nothingHappensAfterClose() {
        follower.configure("device t", "net", null);
        follower.close();
        follower.add(PROVIDER, offer("a", 1));
        assertThat(calls).isEmpty();
    }
}
