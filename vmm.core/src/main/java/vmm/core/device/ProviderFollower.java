package vmm.core.device;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Follows the {@link DeviceProvider} services of one configured device (a device instance, a vhost-user or a
 * vfio-user socket) and keeps its {@link Target} served by the provider {@link DeviceOffer#choose} picks: it plugs
 * the device when the first fitting provider arrives, swaps it when the serving one leaves and another fits or when
 * another is chosen, and holds it when the serving one leaves and none fits, until one arrives.
 *
 * <p>A component calls {@link #configure} from its activate and modified methods, {@link #add}/{@link #remove}
 * from its dynamic reference methods and {@link #close} from its deactivate method; every method is serialized on
 * this object and calls the target with that lock held, so the target sees one change at a time.
 */
public final class ProviderFollower {
    /** What the follower drives: the device behind one configuration. Called with the follower's lock held. */
    public interface Target {
        /**
         * Creates the device, served by {@code offer}; called once, before any other method.
         *
         * @throws Exception when it cannot be created (the follower logs it and tries again on the next change)
         */
        void plug(DeviceOffer offer) throws Exception;

        /**
         * Moves the device to {@code offer}, carrying its state: from the serving provider, or out of
         * {@link #hold()}. On failure the device must be as before the call (serving or held).
         *
         * @throws RuntimeException naming why {@code offer} cannot take over
         */
        void swapTo(DeviceOffer offer);

        /** The serving provider left and none fits: keep the device and its state, serve nothing, until swapTo. */
        void hold();
    }

    private final System.Logger log;
    private final Target target;
    private final List<DeviceOffer> offers = new ArrayList<>();
    private String name = "device", type, wanted;
    private boolean following, plugged;
    private DeviceOffer serving;

    /**
     * Makes a follower that follows nothing until {@link #configure}; offers {@link #add}ed before are kept.
     *
     * @param log    where its log lines go
     * @param target what it drives
     */
    public ProviderFollower(System.Logger log, Target target) {
        this.log = Objects.requireNonNull(log, "log");
        this.target = Objects.requireNonNull(target, "target");
    }

    /**
     * Sets the type to follow and the implementation the configuration names ({@code wanted}, null for the type's
     * default), then brings the device in line. The type must not change once the device is plugged.
     *
     * @param name the device as log lines name it ("device vmm.device~disk", "vhost-user vmm.vhost-user~net")
     * @throws IllegalStateException when the type changes after the device was plugged
     */
    public synchronized void configure(String name, String type, String wanted) {
        Objects.requireNonNull(type, "type");
        this.name = Objects.requireNonNull(name, "name");
        if (plugged && !type.equals(this.type))
            throw new IllegalStateException(name + ": the type cannot change from " + this.type + " to " + type);
        this.type = type;
        this.wanted = wanted;
        following = true;
        reconcile();
    }

    /** A provider service arrived, with its service properties; offers of other types are kept but never chosen. */
    public synchronized void add(DeviceProvider provider, Map<String, ?> properties) {
        offers.add(DeviceOffer.of(provider, properties));
        if (following) reconcile();
    }

    /** A provider service is leaving (its {@code service.id} in {@code properties}); the device moves off it first. */
    public synchronized void remove(Map<String, ?> properties) {
        Object id = properties.get("service.id");
        long sid = id instanceof Long l ? l : -1;
        offers.removeIf(o -> o.serviceId() == sid);
        if (!following || serving == null || serving.serviceId() != sid) return;
        DeviceOffer next = best();
        if (next != null) {
            swap(next);
        } else {
            log.log(Level.WARNING, "{0}: {1} went away and no other {2} is there; holding the device until one arrives",
                    name, serving.implementation(), describeWanted());
            hold();
        }
    }

    /** Stops following (the component is deactivated); the caller then removes the device itself. */
    public synchronized void close() {
        following = false;
        serving = null;
    }

    /** The offer serving now; null before the device is plugged and while it is held. */
    public synchronized DeviceOffer serving() {
        return serving;
    }

    /** Whether the device exists (was plugged) and no provider serves it. */
    public synchronized boolean held() {
        return plugged && serving == null;
    }

    private void reconcile() {
        DeviceOffer best = best();
        if (best == null) {
            if (!plugged) log.log(Level.INFO, "{0}: waiting for an {1}", name, describeWanted());
            return;
        }
        if (!plugged) {
            try {
                target.plug(best);
                plugged = true;
                serving = best;
            } catch (Exception e) {
                log.log(Level.ERROR, name + ": cannot serve " + type + " with " + best.implementation() + ": "
                        + e.getMessage(), e);
            }
        } else if (serving == null || serving.serviceId() != best.serviceId()) {
            swap(best);
        }
    }

    private void swap(DeviceOffer next) {
        try {
            target.swapTo(next);
            serving = next;
        } catch (RuntimeException e) {
            // A serving provider that is gone may not be called any more: the device is held instead.
            boolean gone = serving != null && !offers.contains(serving);
            String then = serving == null || gone ? "the device is held" : serving.implementation() + " keeps serving";
            log.log(Level.ERROR, name + ": swap to " + next.implementation() + " failed, " + then + ": "
                    + e.getMessage(), e);
            if (gone) hold();
        }
    }

    private void hold() {
        serving = null;
        try {
            target.hold();
        } catch (RuntimeException e) {
            log.log(Level.ERROR, name + ": holding the device failed: " + e.getMessage(), e);
        }
    }

    private DeviceOffer best() {
        return DeviceOffer.choose(offers, type, wanted).orElse(null);
    }

    private String describeWanted() {
        return "implementation of " + type + (wanted == null ? "" : " named " + wanted);
    }
}
