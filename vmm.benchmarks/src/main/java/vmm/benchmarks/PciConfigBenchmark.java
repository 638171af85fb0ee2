package vmm.benchmarks;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.pci.BarHandler;
import vmm.core.pci.BarSpec;
import vmm.core.pci.MsiXSpec;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.pci.PciFunctionSpec;

/**
 * What one guest PCI configuration access costs in the core (decode of the
 * function, header and capability emulation), without the exit that brings
 * it there.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class PciConfigBenchmark {
    private static final PciAddress FN = PciAddress.slot(4);
    private PciBus bus;

    @Setup
    public void setup() {
        IrqChip none = new IrqChip() {
            @Override public void setLevel(int gsi, boolean level) { }
            @Override public void signalMsi(MsiMessage message) { }
        };
        bus = new PciBus(new IoPortBus(), new MmioBus(), none);
        BarHandler bars = new BarHandler() {
            @Override public long readBar(int bar, long offset, int size) { return 0; }
            @Override public void writeBar(int bar, long offset, int size, long value) { }
        };
        bus.attach("bench", FN, PciFunctionSpec.builder(0x1af4, 0x1041).classCode(2, 0, 0).interruptPin(1)
                .bar(BarSpec.mem32(1, 4096)).bar(BarSpec.mem64(4, 16384, true))
                .msix(new MsiXSpec(3, 1, 0, 1, 0x800)).build(), bars);
    }

    /** A dword read of the vendor/device register, the commonest access of an enumerating guest. */
    @Benchmark
    public int readVendorDevice() {
        return bus.configRead(FN, 0, 4);
    }

    /** A read of the MSI-X message control word inside the capability list. */
    @Benchmark
    public int readMsixControl() {
        return bus.configRead(FN, 0x42, 2);
    }

    /** A write of the command register with unchanged decode bits (no BAR re-registration). */
    @Benchmark
    public void writeCommand() {
        bus.configWrite(FN, 4, 2, 0x0406);
    }
}
