package vmm.core.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.memory.GuestMemory;

/** The run loop's threading, pause/stop, and what it reports when a vCPU cannot go on. */
class VmRunnerTest {
    private final GuestMemory memory = GuestMemory.ofSize(1 << 16);
    private final ScriptedVcpu v0 = new ScriptedVcpu(0), v1 = new ScriptedVcpu(1);
    private final VmRunner runner = new VmRunner("vm", List.of(v0, v1), new IoPortBus(), new MmioBus(), memory);

    @AfterEach
    void tearDown() throws InterruptedException {
        runner.stop();
        memory.close();
    }

    private StopReport awaitStop() throws InterruptedException {
        return runner.awaitStop(vmm.core.Await.BOUND).orElseThrow(() -> new AssertionError("did not stop"));
    }

    @Test
    void theVmStopsCleanlyOnceEveryVcpuHasHalted() throws Exception {
        runner.start();
        v0.exit(new VcpuExit.Halted());
        v1.exit(new VcpuExit.Halted());

        StopReport r = awaitStop();

        assertThat(r.cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
        assertThat(r.isClean()).isTrue();
        assertThat(runner.state()).isEqualTo(VmRunner.State.STOPPED);
    }

    @Test
    void aFatalExitStopsEveryVcpuAndReportsTheFailingOnesStateAndCode() throws Exception {
        memory.write(0x1234, new byte[] {0x0F, 0x0B}, 0, 2);
        v1.registers = new Registers().rip(0x234).set(Registers.Reg.RAX, 0x55);
        v1.specialRegisters = new SpecialRegisters().segment(SpecialRegisters.Seg.CS, Segment.realMode(0x100, true));
        runner.start();

        v1.exit(new VcpuExit.Shutdown());
        StopReport r = awaitStop();

        assertThat(r.cause()).isEqualTo(StopReport.Cause.GUEST_FAILURE);
        assertThat(r.vcpu()).isEqualTo(1);
        assertThat(r.exit()).containsInstanceOf(VcpuExit.Shutdown.class);
        assertThat(r.instructionAddress()).hasValue(0x1234); // CS base 0x1000 + RIP 0x234
        assertThat(r.instructionBytes()).startsWith((byte) 0x0F, (byte) 0x0B).hasSize(16);
        assertThat(r.describe()).contains("guest failure on vCPU 1: shutdown (triple fault)")
                .contains("rax   =0000000000000055").contains("code at guest-physical 0x1234: 0f 0b 00");
    }

    @Test
    void instructionBytesStopWhereRamEnds() throws Exception {
        v0.registers = new Registers().rip(0xFFFC);
        runner.start();

        v0.exit(new VcpuExit.InternalError(1, "emulation", new long[0]));
        StopReport r = awaitStop();

        assertThat(r.instructionBytes()).hasSize(4);
    }

    @Test
    void anExceptionOnTheExitPathStopsTheVmWithTheException() throws Exception {
        runner.start();

        v0.fail(new IllegalStateException("device broke"));
        StopReport r = awaitStop();

        assertThat(r.cause()).isEqualTo(StopReport.Cause.ERROR);
        assertThat(r.error()).get().extracting(Throwable::getMessage).isEqualTo("device broke");
        assertThat(r.registers()).isPresent();
    }

    @Test
    void pauseHoldsEveryVcpuOutOfRunUntilResumed() throws Exception {
        runner.start();

        runner.pause();
        assertThat(runner.state()).isEqualTo(VmRunner.State.PAUSED);
        int runsWhilePaused = v0.runs.get();
        v0.exit(new VcpuExit.Interrupted()); // a paused vCPU does not run, so this waits
        assertThat(v0.runs.get()).isEqualTo(runsWhilePaused);

        runner.resume();
        assertThat(runner.state()).isEqualTo(VmRunner.State.RUNNING);
        v0.exit(new VcpuExit.Halted());
        v1.exit(new VcpuExit.Halted());

        // Both ran again after the resume: they took their queued exits and halted.
        assertThat(awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
        assertThat(v0.runs.get()).isGreaterThan(runsWhilePaused);
    }

    @Test
    void aVcpuThatHoldsTheVmNeverRunsAgainBeforeAPauseAndResume() throws Exception {
        CountDownLatch held = new CountDownLatch(1);
        v0.access(() -> { // the guest's reset write, on v0's own thread
            runner.hold();
            held.countDown();
        });
        v0.exit(new VcpuExit.Halted()); // what the guest would run next, were it let
        runner.start();
        // The reset thread's pause comes after the write that asked for it: a pause first would hold v0 before it
        // ever ran, which is not the case under test.
        held.await();

        runner.pause(); // as the reset thread does; returns once both vCPUs are held
        assertThat(runner.state()).isEqualTo(VmRunner.State.PAUSED);
        assertThat(v0.runs.get()).as("v0 did not enter the guest again after its hold").isEqualTo(1);

        runner.resume();
        v1.exit(new VcpuExit.Halted());
        assertThat(awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
    }

    @Test
    void holdDoesNothingUnlessRunning() throws Exception {
        runner.hold();
        runner.start();
        v0.exit(new VcpuExit.Halted());
        v1.exit(new VcpuExit.Halted());
        assertThat(awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
    }

    @Test
    void stopBeforeStartAndTwiceIsHarmless() throws Exception {
        assertThat(runner.stop().cause()).isEqualTo(StopReport.Cause.REQUESTED);
        assertThat(runner.stop().cause()).isEqualTo(StopReport.Cause.REQUESTED);
        assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class);
    }
}
