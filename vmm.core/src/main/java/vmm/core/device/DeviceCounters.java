package vmm.core.device;

import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Running totals of one device instance, kept by the core for every
 * instance and carried across swaps: requests completed (chains returned to
 * a used ring), bytes the device wrote into them (the used length), and
 * requests the device reported as failed ({@link DeviceContext#requestFailed()}).
 * Thread-safe and cheap to update from any queue or worker thread; values
 * read are a moment's sum, never reset.
 */
public final class DeviceCounters {
    private final String instanceId;
    private final LongAdder requests = new LongAdder(), bytes = new LongAdder(), errors = new LongAdder();

    /** Counters for the instance named {@code instanceId}. */
    public DeviceCounters(String instanceId) {
        this.instanceId = Objects.requireNonNull(instanceId, "instanceId");
    }

    /** The instance these counters belong to. */
    public String instanceId() {
        return instanceId;
    }

    /** Counts one completed request with {@code usedLength} bytes written by the device; called by the virtqueue, any thread. */
    public void completed(long usedLength) {
        requests.increment();
        bytes.add(usedLength);
    }

    /** Counts one request the device completed with an error status; any thread. */
    public void failed() {
        errors.increment();
    }

    /** Requests completed so far. */
    public long requests() {
        return requests.sum();
    }

    /** Bytes written by the device into completed requests so far (the sum of used lengths). */
    public long bytes() {
        return bytes.sum();
    }

    /** Requests reported as failed so far. */
    public long errors() {
        return errors.sum();
    }

    @Override
    public String toString() {
        return instanceId + ": " + requests() + " requests, " + bytes() + " bytes, " + errors() + " errors";
    }
}
