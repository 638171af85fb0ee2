package vmm.emu.internal.vm;

import vmm.core.hypervisor.Vcpu;

/** What the hand-run probes share: a daemon thread that kicks the vCPU out of its run loop twice a second. */
final class ProbeKicker {
    private ProbeKicker() {}

    /** Starts kicking {@code v} every 500 ms until the thread is interrupted (or the JVM ends: it is a daemon). */
    static Thread start(Vcpu v) {
        return Thread.ofPlatform().daemon().start(() -> {
            while (true) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
                v.kick();
            }
        });
    }
}
