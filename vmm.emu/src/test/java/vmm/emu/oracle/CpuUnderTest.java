package vmm.emu.oracle;

/**
 * A CPU the differential tests check against {@link NativeX86}: it runs one 64-bit-mode
 * instruction from a state whose scratch buffer lies at the oracle's
 * {@link NativeX86#scratchAddress() scratch address}.
 */
public interface CpuUnderTest {
    /**
     * Runs {@code insn} (one instruction) from {@code in} and returns the state after it; throws
     * {@link Fault} when the CPU raised an exception instead (the oracle never does: a mismatch).
     */
    X86State run(byte[] insn, X86State in) throws Fault;

    /** The CPU raised an exception, e.g. #UD for an instruction it does not implement. */
    final class Fault extends Exception {
        private static final long serialVersionUID = 1L;

        public Fault(String what) {
            super(what);
        }
    }
}
