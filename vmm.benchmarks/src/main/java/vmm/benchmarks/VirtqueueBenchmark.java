package vmm.benchmarks;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import vmm.core.memory.GuestMemory;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioFeatures;

/**
 * The device side of the virtqueue hot path: one chain offered by the
 * driver (an avail-ring entry and index bump, done here in the benchmark
 * as a guest would), popped and walked by the core with every check, then
 * completed (used element, used index, interrupt decision). One operation
 * is one chain; the score is chains per second. Chains are built once in
 * guest memory, as a driver that recycles its descriptors leaves them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VirtqueueBenchmark {
    private static final int QUEUE_SIZE = 256;
    private static final long DESC = 0x1000, AVAIL = 0x4000, USED = 0x5000, BUFFERS = 0x10_0000;
    private static final int BUFFER_SIZE = 512;

    /** Descriptors per chain: 1 (one buffer) or 16 (a scatter-gather list). */
    @Param({"1", "16"})
    public int descriptors;

    /** Whether the chain is a single indirect descriptor pointing at a table of them. */
    @Param({"false", "true"})
    public boolean indirect;

    private GuestMemory memory;
    private VirtQueue queue;
    private int[] heads;
    private int availIdx, next;
    private long interrupts;

    @Setup(Level.Trial)
    public void setup() {
        memory = GuestMemory.ofSize(16L << 20);
        long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);
        queue = VirtQueue.create(memory, 0, QUEUE_SIZE, DESC, AVAIL, USED, features, () -> interrupts++,
                error -> { throw new IllegalStateException(error); });
        int chains = indirect ? QUEUE_SIZE : QUEUE_SIZE / descriptors;
        heads = new int[chains];
        long buffer = BUFFERS;
        long tables = BUFFERS + (long) QUEUE_SIZE * 16 * BUFFER_SIZE;
        for (int c = 0; c < chains; c++) {
            if (indirect) {
                long table = tables + (long) c * descriptors * 16;
                for (int d = 0; d < descriptors; d++, buffer += BUFFER_SIZE)
                    descriptor(table, d, buffer, d, descriptors);
                memory.writeU64(DESC + c * 16L, table);
                memory.writeU32(DESC + c * 16L + 8, descriptors * 16L);
                memory.writeU16(DESC + c * 16L + 12, VirtQueue.VIRTQ_DESC_F_INDIRECT);
                memory.writeU16(DESC + c * 16L + 14, 0);
                heads[c] = c;
            } else {
                int first = c * descriptors;
                for (int d = 0; d < descriptors; d++, buffer += BUFFER_SIZE)
                    descriptor(DESC, first + d, buffer, d, descriptors);
                // descriptor(...) numbers "next" from 0 within the chain; rebase it on the table
                for (int d = 0; d < descriptors - 1; d++) memory.writeU16(DESC + (first + d) * 16L + 14, first + d + 1);
                heads[c] = first;
            }
        }
    }

    /** Descriptor {@code i} of a chain of {@code n}: the first half driver-readable, the rest device-writable. */
    private void descriptor(long table, int i, long address, int positionInChain, int n) {
        long at = table + i * 16L;
        int flags = (positionInChain < n - 1 ? VirtQueue.VIRTQ_DESC_F_NEXT : 0)
                | (n > 1 && positionInChain >= n / 2 ? VirtQueue.VIRTQ_DESC_F_WRITE : 0);
        memory.writeU64(at, address);
        memory.writeU32(at + 8, BUFFER_SIZE);
        memory.writeU16(at + 12, flags);
        memory.writeU16(at + 14, i + 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (interrupts == 0) throw new IllegalStateException("the queue never interrupted: the benchmark measured nothing real");
        memory.close();
    }

    /** Offer one chain, pop it, complete it. */
    @Benchmark
    public int popAndComplete() {
        memory.writeU16(AVAIL + 4 + 2L * (availIdx % QUEUE_SIZE), heads[next]);
        availIdx = (availIdx + 1) & 0xffff;
        memory.writeU16(AVAIL + 2, availIdx);
        next = (next + 1) % heads.length;
        DescriptorChain chain = queue.pop();
        int written = (int) chain.writableLength();
        queue.complete(chain, written);
        return chain.head();
    }
}
