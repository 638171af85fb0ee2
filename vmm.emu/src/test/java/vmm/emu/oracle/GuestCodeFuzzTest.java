package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.emu.internal.cpu.CpuFault;
import vmm.emu.internal.cpu.Decoder;
import vmm.emu.internal.cpu.Insn;

/**
 * Any bytes as guest code, the software CPU's whole attack surface from inside the guest: the
 * first byte picks real, 32-bit protected or 64-bit mode (ring 0, so privileged instructions,
 * control registers, descriptor tables and MSRs are reachable too), the rest is code. Decoding
 * gives an instruction of at most 15 bytes or a guest exception; running up to 256 instructions
 * (which may rewrite their own code, the tables and the page tables) ends in an exit, a guest
 * exception handler or the end of the budget, never a host exception.
 */
class GuestCodeFuzzTest {
    private static final int BUDGET = 256;
    private static final EmuCpu CPU = new EmuCpu(0x40_0000);

    @AfterAll
    static void release() {
        CPU.close();
    }

    @FuzzTest(maxDuration = "5m")
    void anyBytesDecodeOrRaiseAGuestExceptionAndRunWithoutAHostException(byte[] input) {
        if (input.length < 2) return;
        Mode mode = Mode.values()[(input[0] & 0xFF) % Mode.values().length];
        byte[] code = Arrays.copyOfRange(input, 1, Math.min(input.length, 1 + 4096));
        try {
            Insn insn = Decoder.decode(i -> i < code.length ? code[i] & 0xFF : 0x90, mode.bits);
            assertThat(insn.len).isBetween(1, Decoder.MAX_LENGTH);
        } catch (CpuFault fault) {
            assertThat(fault.vector).isBetween(0, 31);
        }
        CPU.runBytes(mode, code, BUDGET);
    }
}
