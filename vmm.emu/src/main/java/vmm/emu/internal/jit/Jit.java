package vmm.emu.internal.jit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import vmm.emu.internal.cpu.Block;
import vmm.emu.internal.cpu.BlockTranslator;
import vmm.emu.internal.cpu.TranslatedBlock;

/**
 * The translator of one VM: blocks that ran {@link #threshold()} times are compiled by {@link Translator} on a
 * compiler thread (the vCPU keeps interpreting them meanwhile) and loaded as hidden classes in the CPU's package,
 * which HotSpot then compiles like any other code. With threshold 0 a block is compiled on the vCPU thread at its
 * first run, so tests see every translatable block translated. The compiler thread ends after a second idle, so a
 * VM leaves no thread behind. Thread-safe.
 */
public final class Jit implements BlockTranslator {
    /** The system property that turns the translator off ({@code false}); on unless it says so. */
    public static final String ENABLED_PROPERTY = "vmm.emu.jit";
    /** The system property with the threshold (runs of a block before it is compiled). */
    public static final String THRESHOLD_PROPERTY = "vmm.emu.jit.threshold";
    /**
     * Runs before a block is compiled, by default: enough that code a boot runs a few thousand times and never
     * again stays interpreted, whose HotSpot compilations (tier 3, then C2, per hidden class) cost more than they
     * saved (docs/architecture.md, "The threshold").
     */
    public static final int DEFAULT_THRESHOLD = 30_000;

    private static final System.Logger LOG = System.getLogger("vmm.emu.jit");
    private static final AtomicLong NAMES = new AtomicLong();
    /** The largest method the translator loads by default (HotSpot compiles none over 8,000 bytes). */
    public static final int MAX_METHOD_BYTES = 6000;

    private final int threshold, maxMethodBytes;
    /** Compiles on the vCPU thread when a block turns hot (a deterministic run): the same blocks run translated on every run. */
    private final boolean onVcpu;
    private final java.util.concurrent.atomic.AtomicInteger largest = new java.util.concurrent.atomic.AtomicInteger();
    private final MethodHandles.Lookup lookup = Block.translatorLookup();
    private final ThreadPoolExecutor compiler;
    private final AtomicLong compiled = new AtomicLong(), rejected = new AtomicLong(), failed = new AtomicLong(),
            instructions = new AtomicLong();

    /** @param threshold runs before a block is compiled; 0 compiles at the first run, on the vCPU thread */
    public Jit(int threshold) {
        this(threshold, MAX_METHOD_BYTES);
    }

    /**
     * @param threshold      runs before a block is compiled; 0 compiles at the first run, on the vCPU thread
     * @param maxMethodBytes the largest bytecode method to load: a block that would be larger is cut in halves
     */
    public Jit(int threshold, int maxMethodBytes) {
        this(threshold, maxMethodBytes, false);
    }

    private Jit(int threshold, int maxMethodBytes, boolean onVcpu) {
        if (threshold < 0) throw new IllegalArgumentException("threshold " + threshold);
        if (maxMethodBytes < 256 || maxMethodBytes > 7999) throw new IllegalArgumentException("max " + maxMethodBytes);
        this.threshold = threshold;
        this.maxMethodBytes = maxMethodBytes;
        this.onVcpu = onVcpu;
        this.compiler = new ThreadPoolExecutor(1, 1, 1, TimeUnit.SECONDS, new LinkedBlockingQueue<>(4096), r -> {
            Thread t = new Thread(r, "vmm.emu translator");
            t.setDaemon(true);
            return t;
        });
        compiler.allowCoreThreadTimeOut(true);
    }

    /**
     * The translator the system properties ask for: null when {@value #ENABLED_PROPERTY} is {@code false}, else
     * one with the threshold of {@value #THRESHOLD_PROPERTY} (default {@value #DEFAULT_THRESHOLD}).
     */
    public static Jit fromSystemProperties() {
        return configured(System.getProperty(ENABLED_PROPERTY), System.getProperty(THRESHOLD_PROPERTY));
    }

    /**
     * The translator a configuration asks for ({@code enabled}: "true"/"false" or null for the default, on;
     * {@code threshold}: a number or null); null when it is turned off.
     *
     * @throws IllegalArgumentException for a value that is neither
     */
    public static Jit configured(String enabled, String threshold) {
        if (enabled != null && !enabled.isBlank()) {
            String e = enabled.trim();
            if (e.equalsIgnoreCase("false")) return null;
            if (!e.equalsIgnoreCase("true")) throw new IllegalArgumentException("emu.jit must be true or false: " + e);
        }
        int t = DEFAULT_THRESHOLD;
        if (threshold != null && !threshold.isBlank()) {
            try {
                t = Integer.parseInt(threshold.trim());
            } catch (NumberFormatException x) {
                throw new IllegalArgumentException("emu.jit threshold must be a number: " + threshold);
            }
        }
        return new Jit(t);
    }

    /**
     * A translator with this one's settings that compiles a hot block on the vCPU thread that found it hot, for
     * a deterministic run: a block then runs translated from the same run on, every time, where a compiler
     * thread would install it at a moment that depends on the host.
     */
    public Jit compilingOnVcpu() {
        return new Jit(threshold, maxMethodBytes, true);
    }

    @Override
    public int threshold() {
        return threshold;
    }

    @Override
    public void hot(Block b) {
        if (threshold == 0 || onVcpu) {
            compile(b);
            return;
        }
        try {
            compiler.execute(() -> compile(b));
        } catch (RejectedExecutionException full) {
            rejected.incrementAndGet(); // a flood of hot blocks: this one stays interpreted
        }
    }

    /** Blocks compiled so far. */
    public long compiledBlocks() {
        return compiled.get();
    }

    /** Guest instructions covered by the blocks compiled so far. */
    public long compiledInstructions() {
        return instructions.get();
    }

    /** Blocks that stay interpreted: nothing translatable at their start, or the queue was full. */
    public long rejectedBlocks() {
        return rejected.get();
    }

    /** The longest bytecode method loaded so far, in bytes. */
    public int largestMethodBytes() {
        return largest.get();
    }

    /** Blocks the translator failed on (a defect, logged): they stay interpreted. */
    public long failedBlocks() {
        return failed.get();
    }

    private void compile(Block b) {
        int n = Translator.translatable(b.insns(), b.codeBits());
        if (n == 0) {
            rejected.incrementAndGet();
            return;
        }
        try {
            byte[] bytes;
            while (true) {
                bytes = Translator.translate(b, n, "Translated$" + NAMES.incrementAndGet(),
                        Block.class.getClassLoader());
                // Well under HotSpot's 8,000-byte limit, past which it compiles no method: halve the run until so.
                int length = Translator.runMethodLength(bytes);
                if (n == 1 || length <= maxMethodBytes) {
                    largest.accumulateAndGet(length, Math::max);
                    break;
                }
                n = n / 2;
            }
            MethodHandles.Lookup hidden = lookup.defineHiddenClass(bytes, true);
            TranslatedBlock code = (TranslatedBlock) hidden.findConstructor(hidden.lookupClass(),
                    MethodType.methodType(void.class)).invoke();
            b.install(code, n);
            compiled.incrementAndGet();
            instructions.addAndGet(n);
        } catch (Throwable t) {
            // A translator defect must not stop the guest: the block stays interpreted, and the log says why.
            failed.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "block at guest-physical 0x" + Long.toHexString(b.pa())
                    + " stays interpreted: " + t, t);
        }
    }
}
