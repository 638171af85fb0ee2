package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Reading the host's vendor, flags and KVM module parameters from their text. */
class HostFactsTest {
    private static final String CPUINFO = """
            processor\t: 0
            vendor_id\t: GenuineIntel
            flags\t\t: fpu vme vmx ept_ad
            vmx flags\t: vnmi ept vpid unrestricted_guest

            processor\t: 1
            vendor_id\t: AuthenticAMD
            flags\t\t: fpu svm
            """;

    @Test
    void theFirstProcessorsVendorAndItsFlagsAndVmxFlagsAreRead() {
        HostFacts h = HostFacts.of(CPUINFO, "");

        assertThat(h.cpuVendorId()).isEqualTo("GenuineIntel");
        assertThat(h.cpuFlags()).containsExactlyInAnyOrder("fpu", "vme", "vmx", "ept_ad", "vnmi", "ept", "vpid", "unrestricted_guest");
    }

    @Test
    void moduleParametersAreReadAndAModuleWithAnyIsLoaded() {
        HostFacts h = HostFacts.of(CPUINFO, "# comment\nkvm\nkvm_amd/npt=1\nkvm_amd/avic = 0\n");

        assertThat(h.moduleParameter("kvm_amd", "npt")).contains("1");
        assertThat(h.moduleParameter("kvm_amd", "avic")).contains("0");
        assertThat(h.moduleParameter("kvm_intel", "ept")).isEmpty();
        assertThat(h.moduleLoaded("kvm_amd")).isTrue();
        assertThat(h.moduleLoaded("kvm")).isTrue();
        assertThat(h.moduleLoaded("kvm_intel")).isFalse();
    }

    @Test
    void booleanParametersAreOnAsYOrOne() {
        HostFacts h = HostFacts.of("", "m/a=Y\nm/b=1\nm/c=N\nm/d=0\n");

        assertThat(HostFacts.isOn(h.moduleParameter("m", "a"))).isTrue();
        assertThat(HostFacts.isOn(h.moduleParameter("m", "b"))).isTrue();
        assertThat(HostFacts.isOn(h.moduleParameter("m", "c"))).isFalse();
        assertThat(HostFacts.isOn(h.moduleParameter("m", "d"))).isFalse();
        assertThat(HostFacts.isOn(h.moduleParameter("m", "absent"))).isFalse();
    }

    @Test
    void noCpuinfoReadsAsAnUnknownVendorWithoutFlags() {
        HostFacts h = HostFacts.of("", "");

        assertThat(h.cpuVendorId()).isEqualTo("unknown");
        assertThat(h.cpuFlags()).isEmpty();
    }
}
