package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.StopReport;
import vmm.core.hypervisor.VcpuExit;

/** A guest that cannot go on stops its VM with a readable report; the JVM and the test go on. */
public interface GuestFailures extends GuestBackEnd {

    @Test
    default void aTripleFaultStopsTheVmWithRegistersAndTheFaultingInstruction() throws Exception {
        try (GuestVm t = vm(false)) {
            Asm a = Asm.protected32(0x1000)
                    .movEax(0x1234)                    // mov eax, 0x1234   ; something to find in the report
                    .ud2();                            // ud2               ; #UD, no IDT: #GP, #DF, then shutdown
            t.load(0x1000, a.bytes());
            // An IDT of limit 0 holds no gate, so every exception faults again.
            t.protectedMode(t.vcpu(), 0x1000, 0x600, 0);
            t.start();

            StopReport r = t.awaitStop();

            assertThat(r.cause()).isEqualTo(StopReport.Cause.GUEST_FAILURE);
            assertThat(r.vcpu()).isZero();
            assertThat(r.exit()).containsInstanceOf(VcpuExit.Shutdown.class);
            assertThat(r.registers()).isPresent();
            assertThat(r.registers().get().get(vmm.core.hypervisor.Registers.Reg.RAX)).isEqualTo(0x1234);
            assertThat(r.instructionBytes()).startsWith((byte) 0x0F, (byte) 0x0B); // the ud2
            assertThat(r.describe())
                    .contains("VM stopped: guest failure on vCPU 0: shutdown (triple fault)")
                    .contains("rax   =0000000000001234")
                    .contains("cs  sel=0008");
        }
    }

    @Test
    default void executingFromMmioIsAnEmulationFailureWithAReport() throws Exception {
        try (GuestVm t = vm(false)) {
            Asm a = Asm.real(0x1000)
                    .db(0xEA, 0x00, 0x00, 0x00, 0xD0); // jmp 0xD000:0x0000 ; no RAM there: no code to fetch
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            StopReport r = t.awaitStop();

            assertThat(r.cause()).isEqualTo(StopReport.Cause.GUEST_FAILURE);
            assertThat(r.exit()).containsInstanceOf(VcpuExit.InternalError.class);
            assertThat(r.specialRegisters().get().segment(SpecialRegisters.Seg.CS).base()).isEqualTo(0xD0000);
            assertThat(r.instructionBytes()).isEmpty();
            assertThat(r.describe()).contains("internal error 1 (").contains("(not in RAM)");
        }
    }

    @Test
    default void aDeviceHandlerThatThrowsStopsTheVmWithTheExceptionAndTheInstruction() throws Exception {
        try (GuestVm t = vm(false)) {
            t.ports.register("broken", 0xE0, 1, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) {
                    throw new IllegalStateException("device broke");
                }
            });
            Asm a = Asm.real(0x1000).movAl(1).outImmAl(0xE0).hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            StopReport r = t.awaitStop();

            assertThat(r.cause()).isEqualTo(StopReport.Cause.ERROR);
            assertThat(r.error()).get().extracting(Throwable::getMessage).isEqualTo("device broke");
            assertThat(r.describe()).contains("code at guest-physical 0x");
            assertThat(r.instructionBytes()).isNotEmpty();
        }
    }
}
