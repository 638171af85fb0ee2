package vmm.launcher.boot;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import vmm.kvm.GenericVendor;
import vmm.kvm.KvmHypervisor;

/**
 * The KVM device the guest tests run on: {@code /dev/kvm}, or what {@code -Dvmm.kvm.device} names
 * ({@code -Dvmm.kvm.device=/nonexistent} shows what a host without KVM does: these tests skip).
 */
public final class HostKvm {
    public static final String DEVICE = System.getProperty("vmm.kvm.device", "/dev/kvm");

    private HostKvm() {}

    /** Skips the test, saying why, where there is no KVM device. */
    public static void require() {
        assumeTrue(Files.exists(Path.of(DEVICE)), "no " + DEVICE + " on this host: guests cannot run");
    }

    /** Opens KVM with the generic vendor part, or skips the test where there is none. */
    public static KvmHypervisor open() {
        require();
        return new KvmHypervisor(new GenericVendor(), DEVICE);
    }
}
