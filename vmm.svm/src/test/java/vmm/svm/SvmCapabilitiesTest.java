package vmm.svm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vmm.kvm.KvmProbe;
import vmm.kvm.fixtures.Fixtures;
import vmm.kvm.vendor.HostFacts;

/** NPT, ASID and AVIC as read from a host's /proc/cpuinfo and kvm_amd parameters. */
class SvmCapabilitiesTest {

    @Test
    void anEpycRunningKvmAmdReportsNptAsidAvicAndNested() {
        SvmVendor v = new SvmVendor(Fixtures.host("amd-epyc-7742"));

        // The whole report, in order, as the log line shows it; no msrs-to-save: the probe gave no MSR list.
        assertThat(v.capabilities(Fixtures.probe("amd-ryzen-matisse.cpuid", List.of()))).hasToString(
                "{kvm-module=kvm_amd, svm=yes, npt=yes, asid=yes, asid-flush=yes, avic=yes, x2avic=no, nested=yes}");
    }

    @Test
    void avicIsOffWhenKvmAmdLeavesItOffThoughTheCpuHasIt() {
        String cpuinfo = Fixtures.text("amd-epyc-7742.cpuinfo");
        SvmVendor v = new SvmVendor(HostFacts.of(cpuinfo, "kvm_amd/npt=1\nkvm_amd/avic=0\n"));

        Map<String, String> caps = v.capabilities(Fixtures.probe("amd-ryzen-matisse.cpuid", List.of()));

        assertThat(caps).containsEntry("avic", "no").containsEntry("npt", "yes").containsEntry("nested", "no");
    }

    @Test
    void nptIsOffWhenKvmAmdRunsWithShadowPaging() {
        SvmVendor v = new SvmVendor(HostFacts.of(Fixtures.text("amd-epyc-7742.cpuinfo"), "kvm_amd/npt=0\n"));

        assertThat(v.capabilities(Fixtures.probe("amd-ryzen-matisse.cpuid", List.of()))).containsEntry("npt", "no");
    }

    @Test
    void thisMachineANestedKvmPvmGuestHasNoSvmNptOrAvicAndSavesTheMsrsItsKvmLists() {
        SvmVendor v = new SvmVendor(Fixtures.host("this-host"));

        KvmProbe probe = Fixtures.probe("this-host-kvm-pvm-epyc.cpuid", Fixtures.msrs("this-host-kvm-pvm-epyc.msrs"));

        assertThat(v.capabilities(probe)).hasToString("{kvm-module=kvm_pvm, svm=no, npt=no, asid=no, asid-flush=no,"
                + " avic=no, x2avic=no, nested=no, msrs-to-save=23 of " + v.msrsToSave().size() + "}");
    }
}
