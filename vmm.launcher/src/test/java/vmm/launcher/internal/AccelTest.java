package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** KVM keeps priority when it works; the software CPU serves when no KVM back end registered, or when asked. */
class AccelTest {
    private static final String WHY = "/dev/kvm is missing";

    @Test
    void autoPrefersKvmWhenBothRegisteredAndSaysNothing() throws Exception {
        Accel.Choice c = Accel.choose("auto", List.of("emu", "kvm/vt-x"), WHY);
        assertThat(c.accel()).isEqualTo("kvm");
        assertThat(c.target()).isEqualTo("(vmm.hypervisor.backend=kvm*)");
        assertThat(c.note()).isNull();
    }

    @Test
    void autoFallsBackToTheSoftwareCpuAndSaysWhyInOneLine() throws Exception {
        Accel.Choice c = Accel.choose("auto", List.of("emu"), WHY);
        assertThat(c.accel()).isEqualTo("emu");
        assertThat(c.target()).isEqualTo("(vmm.hypervisor.backend=emu*)");
        assertThat(c.note()).isEqualTo("no usable KVM (/dev/kvm is missing): running on the software CPU (vmm.emu)");
    }

    @Test
    void anExplicitChoiceIsHonouredEvenWhenKvmIsThere() throws Exception {
        assertThat(Accel.choose("emu", List.of("kvm/amd-v", "emu"), WHY).accel()).isEqualTo("emu");
        assertThat(Accel.choose("kvm", List.of("kvm/amd-v", "emu"), WHY).accel()).isEqualTo("kvm");
    }

    @Test
    void aBackEndThatIsNotThereIsOneLineNamingWhy() {
        assertThatThrownBy(() -> Accel.choose("kvm", List.of("emu"), WHY)).hasMessage("--accel kvm: /dev/kvm is missing");
        assertThatThrownBy(() -> Accel.choose("emu", List.of("kvm/vt-x"), WHY))
                .hasMessage("--accel emu: the software CPU (bundle vmm.emu) is not installed");
        assertThatThrownBy(() -> Accel.choose("auto", List.of(), WHY))
                .hasMessage("no CPU back end: /dev/kvm is missing, and the software CPU (bundle vmm.emu) is not installed");
    }

    @Test
    void kvmProblemTellsAMissingDeviceFromOneThatOpens(@TempDir Path dir) throws Exception {
        assertThat(Accel.kvmProblem(dir.resolve("kvm"))).startsWith(dir.resolve("kvm") + " is missing");
        Path dev = Files.createFile(dir.resolve("kvm"));
        assertThat(Accel.kvmProblem(dev)).startsWith("the KVM back end did not start");
    }
}
