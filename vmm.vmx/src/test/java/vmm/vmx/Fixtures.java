package vmm.vmx;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmProbe;
import vmm.kvm.vendor.HostFacts;

/** Recorded CPUID, MSR and host data under {@code src/test/resources/fixtures}. */
public final class Fixtures {
    private Fixtures() {}

    public static String text(String name) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/fixtures/" + name)) {
            if (in == null) throw new IllegalArgumentException("no fixture " + name);
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A CPUID dump: lines {@code function index flags eax ebx ecx edx} in hex, {@code #} comments. */
    public static List<CpuidEntry> cpuid(String name) {
        List<CpuidEntry> out = new ArrayList<>();
        for (String line : lines(name)) {
            String[] f = line.split("\\s+");
            int[] v = new int[7];
            for (int i = 0; i < 7; i++) v[i] = Integer.parseUnsignedInt(f[i], 16);
            out.add(new CpuidEntry(v[0], v[1], v[2], v[3], v[4], v[5], v[6]));
        }
        return out;
    }

    /** An MSR index list: one hex index a line. */
    public static List<Integer> msrs(String name) {
        return lines(name).stream().map(l -> Integer.parseUnsignedInt(l, 16)).toList();
    }

    public static HostFacts host(String prefix) {
        return HostFacts.of(text(prefix + ".cpuinfo"), text(prefix + ".modules"));
    }

    /** A KVM probe answering from recorded data, for the capability report. */
    public static KvmProbe probe(String cpuidFixture, List<Integer> msrIndexList) {
        List<CpuidEntry> cpuid = cpuid(cpuidFixture);
        return new KvmProbe() {
            @Override public int checkExtension(int capability) { return 0; }
            @Override public List<CpuidEntry> supportedCpuid() { return cpuid; }
            @Override public String cpuVendorId() { return vmm.kvm.vendor.CpuidTable.of(cpuid).vendorId(); }
            @Override public List<Integer> msrIndexList() { return msrIndexList; }
        };
    }

    private static List<String> lines(String name) {
        return text(name).lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    }
}
