package vmm.emu.internal.cpu;

/**
 * A {@link Block} compiled to JVM bytecode by the translator ({@code vmm.emu.internal.jit}). Called only by the
 * vCPU thread that runs {@code c}, at a block boundary with RIP at the block's first instruction.
 */
public interface TranslatedBlock {
    /**
     * Runs the block (and, for a block that jumps back to itself, further passes while {@code budget} allows and
     * nothing needs the run loop), leaving registers, flags and RIP as the interpreter would. Returns the number of
     * instructions retired; never more than {@code budget}, which is at least the translated instruction count. A
     * fault leaves the state at the faulting instruction, {@link Cpu#jitRetired} the instructions retired before
     * it, and is rethrown.
     */
    long run(Cpu c, Block b, long budget);
}
