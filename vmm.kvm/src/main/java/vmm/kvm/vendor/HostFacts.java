package vmm.kvm.vendor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What the back ends read about the host besides KVM's own answers: the CPU's
 * vendor and feature flags as Linux reports them, and KVM module parameters.
 * The seam between the vendor logic and the host's files, so tests can give
 * recorded text instead. Implementations are thread-safe.
 */
public interface HostFacts {
    /** CPUID leaf 0's vendor string of the host CPU (e.g. {@code "AuthenticAMD"}), or {@code "unknown"}. */
    String cpuVendorId();

    /**
     * The host CPU's flags as {@code /proc/cpuinfo} lists them for the first
     * processor: its {@code flags} line and, on Intel, its {@code vmx flags} line
     * (Linux 5.8 and later list EPT, VPID, unrestricted guest there).
     */
    Set<String> cpuFlags();

    /**
     * A KVM module parameter, as {@code /sys/module/MODULE/parameters/NAME} holds it
     * (trimmed), e.g. {@code moduleParameter("kvm_amd", "npt")}. Empty when the module
     * is not loaded or has no such parameter.
     */
    Optional<String> moduleParameter(String module, String name);

    /** Whether the kernel module {@code module} is loaded (it appears under {@code /sys/module}). */
    boolean moduleLoaded(String module);

    /**
     * Which KVM module serves {@code /dev/kvm}: {@code kvm_intel}, {@code kvm_amd}, another
     * this VMM knows ({@code kvm_pvm}, which the development machines run), {@code kvm} alone, or {@code none}.
     */
    default String kvmModule() {
        for (String m : java.util.List.of("kvm_intel", "kvm_amd", "kvm_pvm")) if (moduleLoaded(m)) return m;
        return moduleLoaded("kvm") ? "kvm" : "none";
    }

    /** This host, read from {@code /proc/cpuinfo} and {@code /sys/module}. Missing files read as absent facts. */
    static HostFacts ofThisHost() {
        String cpuinfo;
        try {
            cpuinfo = Files.readString(Path.of("/proc/cpuinfo"), StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            cpuinfo = "";
        }
        CpuInfo parsed = CpuInfo.parse(cpuinfo);
        return new HostFacts() {
            @Override public String cpuVendorId() { return parsed.vendorId(); }
            @Override public Set<String> cpuFlags() { return parsed.flags(); }

            @Override
            public Optional<String> moduleParameter(String module, String name) {
                try {
                    return Optional.of(Files.readString(Path.of("/sys/module", module, "parameters", name)).trim());
                } catch (IOException | RuntimeException e) {
                    return Optional.empty();
                }
            }

            @Override
            public boolean moduleLoaded(String module) {
                return Files.isDirectory(Path.of("/sys/module", module));
            }
        };
    }

    /**
     * Facts from recorded text: {@code cpuinfo} in {@code /proc/cpuinfo}'s format, and
     * {@code moduleParameters} as lines {@code MODULE/NAME=VALUE} (what
     * {@code grep -r . /sys/module/kvm_amd/parameters} prints, shortened); a module
     * counts as loaded when one of its parameters is given or it is named on a line
     * of its own.
     */
    static HostFacts of(String cpuinfo, String moduleParameters) {
        CpuInfo parsed = CpuInfo.parse(cpuinfo);
        Map<String, String> params = new HashMap<>();
        Set<String> modules = new LinkedHashSet<>();
        for (String line : moduleParameters.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            int slash = line.indexOf('/'), eq = line.indexOf('=');
            if (slash < 0 || eq < slash) {
                modules.add(line);
                continue;
            }
            modules.add(line.substring(0, slash));
            params.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
        }
        return new HostFacts() {
            @Override public String cpuVendorId() { return parsed.vendorId(); }
            @Override public Set<String> cpuFlags() { return parsed.flags(); }
            @Override public Optional<String> moduleParameter(String module, String name) {
                return Optional.ofNullable(params.get(module + "/" + name));
            }
            @Override public boolean moduleLoaded(String module) { return modules.contains(module); }
        };
    }

    /** Whether a boolean module parameter is on: {@code Y}, {@code 1} (kvm_amd's ints) or {@code y}. */
    static boolean isOn(Optional<String> parameter) {
        return parameter.map(v -> v.equals("Y") || v.equals("y") || v.equals("1")).orElse(false);
    }

    /** The first processor's {@code vendor_id} and flags from {@code /proc/cpuinfo} text. */
    record CpuInfo(String vendorId, Set<String> flags) {
        static CpuInfo parse(String text) {
            String vendor = "unknown";
            Set<String> flags = new LinkedHashSet<>();
            boolean seenVendor = false, seenFlags = false, seenVmxFlags = false;
            for (String line : text.split("\n")) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    if (line.isBlank() && seenVendor) break; // the first processor's block ends here
                    continue;
                }
                String key = line.substring(0, colon).strip(), value = line.substring(colon + 1).strip();
                switch (key) {
                    case "vendor_id" -> { if (!seenVendor) { vendor = value; seenVendor = true; } }
                    case "flags" -> { if (!seenFlags) { addAll(flags, value); seenFlags = true; } }
                    case "vmx flags" -> { if (!seenVmxFlags) { addAll(flags, value); seenVmxFlags = true; } }
                    default -> { }
                }
            }
            return new CpuInfo(vendor, Set.copyOf(flags));
        }

        private static void addAll(Set<String> into, String words) {
            for (String w : words.split("\\s+")) if (!w.isEmpty()) into.add(w);
        }
    }
}
