package vmm.testing;


import org.assertj.core.api.AbstractAssert;
import org.assertj.core.api.Assertions;

import vmm.core.virtio.VirtioFeatures;

/** AssertJ entry points for the kit's objects: {@code assertThat(driver).isHealthy()}, and so on. */
public final class VmmAssertions extends Assertions {
    private VmmAssertions() {}

    public static VirtioDriverAssert assertThat(VirtioDriver actual) {
        return new VirtioDriverAssert(actual);
    }

    public static InterruptAssert assertThat(InterruptRecorder actual) {
        return new InterruptAssert(actual);
    }

    public static CompletionAssert assertThat(DriverQueue.Completion actual) {
        return new CompletionAssert(actual);
    }

    /** Assertions on a device's status as its driver sees it. */
    public static final class VirtioDriverAssert extends AbstractAssert<VirtioDriverAssert, VirtioDriver> {
        VirtioDriverAssert(VirtioDriver actual) {
            super(actual, VirtioDriverAssert.class);
        }

        /** DRIVER_OK set, NEEDS_RESET and FAILED clear. */
        public VirtioDriverAssert isHealthy() {
            isNotNull();
            int s = actual.status();
            if ((s & VirtioFeatures.STATUS_DRIVER_OK) == 0 || (s & (VirtioFeatures.STATUS_DEVICE_NEEDS_RESET | VirtioFeatures.STATUS_FAILED)) != 0)
                failWithMessage("expected a healthy device (DRIVER_OK, no NEEDS_RESET) but status was 0x%02x", s);
            return this;
        }

        /** DEVICE_NEEDS_RESET set: the device reported a guest error. */
        public VirtioDriverAssert needsReset() {
            isNotNull();
            if (!actual.needsReset())
                failWithMessage("expected DEVICE_NEEDS_RESET but status was 0x%02x", actual.status());
            return this;
        }

        public VirtioDriverAssert hasStatusBits(int bits) {
            isNotNull();
            if ((actual.status() & bits) != bits)
                failWithMessage("expected status bits 0x%02x in 0x%02x", bits, actual.status());
            return this;
        }
    }

    /** Assertions on recorded interrupts. */
    public static final class InterruptAssert extends AbstractAssert<InterruptAssert, InterruptRecorder> {
        InterruptAssert(InterruptRecorder actual) {
            super(actual, InterruptAssert.class);
        }

        /** At least {@code count} MSIs with {@code data} arrive (waits for them, up to {@link HangGuard#BOUND}). */
        public InterruptAssert receivesMsi(int data, int count) {
            isNotNull();
            if (!actual.awaitMsiCount(data, count, HangGuard.BOUND))
                failWithMessage("expected %d MSIs with data 0x%x within %d s, got %d (all: %s)", count, data,
                        HangGuard.BOUND.toSeconds(), actual.msiCount(data), actual.msis());
            return this;
        }

        /** Exactly {@code count} MSIs with {@code data} so far. */
        public InterruptAssert hasMsiCount(int data, int count) {
            isNotNull();
            if (actual.msiCount(data) != count)
                failWithMessage("expected %d MSIs with data 0x%x, got %d", count, data, actual.msiCount(data));
            return this;
        }

        public InterruptAssert hasLevel(int gsi, boolean level) {
            isNotNull();
            if (actual.level(gsi) != level) failWithMessage("expected GSI %d %s", gsi, level ? "high" : "low");
            return this;
        }
    }

    /** Assertions on one used element. */
    public static final class CompletionAssert extends AbstractAssert<CompletionAssert, DriverQueue.Completion> {
        CompletionAssert(DriverQueue.Completion actual) {
            super(actual, CompletionAssert.class);
        }

        public CompletionAssert hasHead(int head) {
            isNotNull();
            if (actual.head() != head) failWithMessage("expected head %d, was %d", head, actual.head());
            return this;
        }

        public CompletionAssert hasLength(int length) {
            isNotNull();
            if (actual.length() != length) failWithMessage("expected %d bytes written, was %d", length, actual.length());
            return this;
        }

        public CompletionAssert hasData(byte[] data) {
            isNotNull();
            if (!java.util.Arrays.equals(actual.data(), data))
                failWithMessage("expected data %s, was %s", java.util.Arrays.toString(data), java.util.Arrays.toString(actual.data()));
            return this;
        }
    }
}
