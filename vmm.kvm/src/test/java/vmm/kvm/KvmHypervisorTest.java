package vmm.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.kvm.guest.KvmBackEnd;

/** Opening KVM, the capability report, and the memory layouts a VM refuses. */
class KvmHypervisorTest {

    @Test
    void aMissingDeviceIsReportedWithWhatToDo() {
        assertThatThrownBy(() -> new KvmHypervisor(new GenericVendor(), "/nonexistent/kvm"))
                .isInstanceOf(HypervisorException.class)
                .hasMessageContaining("/nonexistent/kvm does not exist")
                .hasMessageContaining("modprobe");
    }

    @Test
    void aVendorThatDoesNotServeTheHostIsRefused() {
        KvmBackEnd.openOrSkip().close();
        KvmVendor other = new KvmVendor() {
            @Override public String name() { return "other"; }
            @Override public boolean supportsHost(String id) { return false; }
            @Override public java.util.List<CpuidEntry> guestCpuid(java.util.List<CpuidEntry> s, int i, int n) { return s; }
            @Override public java.util.List<Integer> msrsToSave() { return java.util.List.of(); }
            @Override public java.util.Map<String, String> capabilities(KvmProbe p) { return java.util.Map.of(); }
            @Override public String explainEntryFailure(long r) { return ""; }
        };
        assertThatThrownBy(() -> new KvmHypervisor(other)).isInstanceOf(HypervisorException.class)
                .hasMessageContaining("the other back end does not serve this host's CPU");
    }

    @Test
    void capabilitiesNameTheBackEndTheCpuVendorAndKvmsFeatures() {
        try (KvmHypervisor h = KvmBackEnd.openOrSkip()) {
            var c = h.capabilities();
            assertThat(c.backEnd()).isEqualTo("kvm/" + KvmBackEnd.vendor().name()); // generic unless -Dvmm.kvm.vendor names another
            assertThat(c.cpuVendor()).isIn("AuthenticAMD", "GenuineIntel", "HygonGenuine");
            assertThat(c.features()).containsEntry("irqchip", "yes").containsEntry("api-version", "12")
                    .containsKey("max-vcpus");
            assertThat(h.supportedCpuid()).anyMatch(e -> e.function() == 0);
        }
    }

    @Test
    void ramThatIsNotWholePagesIsRefused() {
        try (KvmHypervisor h = KvmBackEnd.openOrSkip(); Arena a = Arena.ofConfined()) {
            MemorySegment odd = a.allocate(6000, 4096);
            try (GuestMemory m = GuestMemory.builder().region(new RamRegion("odd", 0, odd, -1, 0, false)).build()) {
                assertThatThrownBy(() -> h.createVm(m, VmConfig.singleVcpu())).isInstanceOf(HypervisorException.class)
                        .hasMessageContaining("RAM region odd (6000 bytes) is not whole 4 KiB pages");
            }
        }
    }

    @Test
    void memoryOverTheRangeKvmKeepsForTheTssIsRefused() {
        try (KvmHypervisor h = KvmBackEnd.openOrSkip();
             GuestMemory m = GuestMemory.builder().ram("high", 0xFEF00000L, 0x200000).build()) {
            assertThatThrownBy(() -> h.createVm(m, VmConfig.singleVcpu())).isInstanceOf(HypervisorException.class)
                    .hasMessageContaining("overlaps [0xfeffc000, 0xff000000)");
        }
    }

    @Test
    void tooManyVcpusAreRefusedWithTheHostsLimit() {
        try (KvmHypervisor h = KvmBackEnd.openOrSkip(); GuestMemory m = GuestMemory.ofSize(1 << 20)) {
            assertThatThrownBy(() -> h.createVm(m, new VmConfig(100_000, true))).isInstanceOf(HypervisorException.class)
                    .hasMessageContaining("vCPUs per VM");
        }
    }

    @Test
    void kvmListsTheSyscallAndSysenterMsrsItCanSave() {
        KvmBackEnd.openOrSkip().close();
        try (vmm.kvm.internal.KvmSystem k = vmm.kvm.internal.KvmSystem.open(System.getProperty("vmm.kvm.device", "/dev/kvm"))) {
            assertThat(k.msrIndexList()).contains(0x174, 0x175, 0x176, 0xC0000081, 0xC0000082, 0xC0000102).doesNotHaveDuplicates();
        }
    }
}
