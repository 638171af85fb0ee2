package vmm.emu.oracle;

/**
 * A CPU the differential tests check against {@link NativeX86}: it runs one instruction in 64-bit
 * or 32-bit code from a state whose scratch buffer lies at the oracle's
 * {@link NativeX86#scratchAddress() scratch address}.
 */
public interface CpuUnderTest {
    /**
     * Runs {@code insn} (one instruction) in {@code mode} from {@code in} and returns the state after
     * it (in 32-bit code: the low halves of the first eight registers, the others 0); throws
     * {@link Fault} when the CPU raised an exception instead (the oracle never does: a mismatch).
     */
    X86State run(Mode mode, byte[] insn, X86State in) throws Fault;

    /** The CPU raised an exception, e.g. #UD for an instruction it does not implement. */
    final class Fault extends Exception {
        private static final long serialVersionUID = 1L;

        public Fault(String what) {
            super(what);
        }
    }
}
