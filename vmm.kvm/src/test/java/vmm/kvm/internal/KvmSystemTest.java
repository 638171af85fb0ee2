package vmm.kvm.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;

import org.junit.jupiter.api.Test;

import vmm.kvm.internal.abi.Kvm;
import vmm.kvm.internal.linux.Sys;

/** What a user is told when KVM cannot be used, and how to fix it. */
class KvmSystemTest {

    @Test
    void aMissingDeviceNamesTheModulesToLoad() {
        assertThat(KvmSystem.openFailure("/dev/kvm", Sys.ENOENT))
                .contains("/dev/kvm does not exist").contains("modprobe kvm_intel").contains("kvm_amd")
                .contains("nested virtualization");
    }

    @Test
    void aPermissionProblemSaysToJoinGroupKvm() {
        assertThat(KvmSystem.openFailure("/dev/kvm", Sys.EACCES))
                .contains("permission denied opening /dev/kvm").contains("add your user to group kvm");
    }

    @Test
    void anotherErrorIsReportedWithTheHostsReason() {
        assertThat(KvmSystem.openFailure("/dev/kvm", 24)).contains("cannot open /dev/kvm").contains("errno 24");
    }

    @Test
    void aWrongApiVersionIsNamedWithTheOneNeeded() {
        assertThat(KvmSystem.wrongVersion("/dev/kvm", 11)).contains("API version 11").contains("needs version 12");
    }

    @Test
    void everyMissingCapabilityIsListedInOneMessage() {
        Set<Integer> absent = Set.of(Kvm.KVM_CAP_IRQFD, Kvm.KVM_CAP_IMMEDIATE_EXIT);
        String message = KvmSystem.missingCapabilities(cap -> absent.contains(cap) ? 0 : 1);
        assertThat(message).contains("KVM_CAP_IRQFD (interrupts from device threads)")
                .contains("KVM_CAP_IMMEDIATE_EXIT (stopping a running vCPU)")
                .doesNotContain("KVM_CAP_IOEVENTFD");
        assertThat(KvmSystem.missingCapabilities(cap -> 1)).isNull();
    }
}
