package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.StopReport;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VmRunner;
import vmm.testing.HangGuard;

/** A vCPU spinning in guest code, which never exits by itself, is taken out of run() on request. */
public interface KickGuests extends GuestBackEnd {

    private static Asm spinner() {
        return Asm.real(0x1000)
                .movAl(1).outImmAl(0xE0)               // out 0xE0, al      ; "spinning now"
                .label("spin").jmp("spin");            // spin: jmp spin
    }

    @Test
    default void aKickReturnsRunFromABusyGuestAsInterrupted() throws Exception {
        try (GuestVm t = vm(true)) {
            Ports ready = new Ports();
            t.ports.register("ready", 0xE0, 1, ready);
            t.load(0x1000, spinner().bytes());
            t.realMode(t.vcpu(), 0x1000);
            CompletableFuture<VcpuExit> exit = CompletableFuture.supplyAsync(() -> t.vcpu().run(t.ports, t.mmio),
                    r -> Thread.ofPlatform().start(r));
            assertThat(ready.next()).isEqualTo(1);

            t.vcpu().kick();

            assertThat(exit.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(VcpuExit.Interrupted.class);
            // The guest is still in its loop, where it was interrupted.
            long rip = t.vcpu().registers().rip();
            assertThat(rip).isBetween(0x1000L, 0x1000L + spinner().bytes().length);
        }
    }

    @Test
    default void aKickBeforeRunMakesTheNextRunReturnAtOnce() throws Exception {
        try (GuestVm t = vm(true)) {
            t.load(0x1000, spinner().bytes());
            t.realMode(t.vcpu(), 0x1000);

            t.vcpu().kick();

            assertThat(t.vcpu().run(t.ports, t.mmio)).isInstanceOf(VcpuExit.Interrupted.class);
            assertThat(t.vcpu().registers().rip()).isEqualTo(0x1000);
        }
    }

    @Test
    default void aSpinningVmPausesResumesAndStops() throws Exception {
        try (GuestVm t = vm(true)) {
            Ports ready = new Ports();
            t.ports.register("ready", 0xE0, 1, ready);
            t.load(0x1000, spinner().bytes());
            t.realMode(t.vcpu(), 0x1000);
            VmRunner runner = t.start();
            assertThat(ready.next()).isEqualTo(1);

            runner.pause();
            assertThat(runner.state()).isEqualTo(VmRunner.State.PAUSED);
            long ripWhilePaused = t.vcpu().registers().rip();
            runner.resume();
            assertThat(runner.state()).isEqualTo(VmRunner.State.RUNNING);
            StopReport report = runner.stop();

            assertThat(ripWhilePaused).isGreaterThan(0x1000L);
            assertThat(runner.state()).isEqualTo(VmRunner.State.STOPPED);
            assertThat(report.cause()).isEqualTo(StopReport.Cause.REQUESTED);
            assertThat(report.isClean()).isTrue();
        }
    }
}
