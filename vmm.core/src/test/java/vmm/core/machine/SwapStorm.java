package vmm.core.machine;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

import vmm.core.Await;
import vmm.core.device.DeviceProvider;

/** The swap-under-load both device-instance tests drive: a vCPU thread writes while the instance swaps back and forth. */
final class SwapStorm {
    static final int SWAPS = 20;

    /**
     * The configuration of an instance the storm runs on: guest accesses wait for a swap as long as the tests' hang
     * guard, not the default 2 s. "Loses none" holds only while every swap ends within the bound, and on a loaded
     * machine one did not: 1 write of 20,000 dropped (the bound itself is {@code VirtioPciSwapTest}'s and
     * {@code swapWaitIsCheckedBeforeTheProviderIsAsked}'s).
     */
    static final Map<String, Object> CONFIG = Map.of(DeviceInstance.SWAP_WAIT_MS, Await.BOUND.toMillis());

    private SwapStorm() {}

    /**
     * Starts a thread that runs {@code guestWrite} {@code writes} times and, once it runs, swaps {@code d}
     * {@link #SWAPS} times between implementations "b" and "a" (ending on "a") from {@code provider}; returns once
     * the thread is done.
     */
    static void run(DeviceInstance d, int writes, Runnable guestWrite, Function<Character, DeviceProvider> provider)
            throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        Thread vcpu = Thread.ofPlatform().start(() -> {
            started.countDown();
            for (int i = 0; i < writes; i++) guestWrite.run();
        });
        started.await();
        for (int i = 0; i < SWAPS; i++) {
            char tag = i % 2 == 0 ? 'b' : 'a';
            d.swapTo(String.valueOf(tag), provider.apply(tag));
        }
        vcpu.join();
    }
}
