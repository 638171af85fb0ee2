package vmm.emu.internal.cpu;

/**
 * Where hot blocks go to be compiled: the vCPUs count each block's runs and hand it over once it reaches
 * {@link #threshold()}. Shared by the vCPUs of one VM; thread-safe.
 */
public interface BlockTranslator {
    /** Runs after which a block is handed to {@link #hot}; 0 means at its first run. */
    int threshold();

    /**
     * Compiles {@code b} (or gives up on it), now or later on another thread, and installs the result with
     * {@link Block#install}. Called once per block by the vCPU thread that found it hot; must not block it
     * unless {@link #threshold()} is 0.
     */
    void hot(Block b);
}
