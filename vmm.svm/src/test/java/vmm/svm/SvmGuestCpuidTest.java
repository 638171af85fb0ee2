package vmm.svm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.kvm.KvmHypervisor;

/**
 * A real-mode guest on this machine's KVM, through the AMD-V back end, executes
 * CPUID and writes what it sees to a port: the normalized CPUID reaches the guest.
 */
class SvmGuestCpuidTest {
    private static final int REPORT_PORT = 0xE0;

    /**
     * <pre>
     * xor eax, eax ; cpuid          ; leaf 0
     * mov eax, ebx ; out 0xE0, eax  ; "Auth"
     * mov eax, edx ; out 0xE0, eax  ; "enti"
     * mov eax, ecx ; out 0xE0, eax  ; "cAMD"
     * mov eax, 1   ; cpuid          ; leaf 1
     * mov eax, ecx ; out 0xE0, eax  ; features: the hypervisor bit
     * mov eax, ebx ; out 0xE0, eax  ; APIC ID and logical processor count
     * hlt
     * </pre>
     */
    private static final byte[] GUEST = bytes(
            0x66, 0x31, 0xC0, 0x0F, 0xA2,
            0x66, 0x89, 0xD8, 0x66, 0xE7, REPORT_PORT,
            0x66, 0x89, 0xD0, 0x66, 0xE7, REPORT_PORT,
            0x66, 0x89, 0xC8, 0x66, 0xE7, REPORT_PORT,
            0x66, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x0F, 0xA2,
            0x66, 0x89, 0xC8, 0x66, 0xE7, REPORT_PORT,
            0x66, 0x89, 0xD8, 0x66, 0xE7, REPORT_PORT,
            0xF4);

    private static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) out[i] = (byte) b[i];
        return out;
    }

    @Test
    void theGuestSeesTheHostVendorTheHypervisorBitAndItsOwnApicId() throws Exception {
        // -Dvmm.kvm.device=/nonexistent shows what a host without KVM does.
        String device = System.getProperty("vmm.kvm.device", "/dev/kvm");
        assumeTrue(Files.exists(Path.of(device)), "no " + device + " on this host: the guest test is skipped");
        KvmHypervisor hypervisor;
        try {
            hypervisor = new KvmHypervisor(new SvmVendor(), device);
        } catch (HypervisorException e) {
            assumeTrue(false, "the AMD-V back end cannot serve this host: " + e.getMessage());
            return;
        }
        List<Long> reported = new ArrayList<>();
        IoPortBus ports = new IoPortBus();
        ports.register("cpuid report", REPORT_PORT, 4, new IoHandler() {
            @Override public long read(long offset, int size) { return 0; }
            @Override public void write(long offset, int size, long value) { reported.add(value); }
        });
        try (hypervisor; GuestMemory memory = GuestMemory.ofSize(0x10000);
             VirtualMachine vm = hypervisor.createVm(memory, new VmConfig(2, false))) {
            memory.write(0x1000, GUEST, 0, GUEST.length);
            Vcpu first = vm.createVcpu(0), second = vm.createVcpu(1);
            try (first; second) {
                SpecialRegisters s = second.specialRegisters();
                s.segment(SpecialRegisters.Seg.CS, Segment.realMode(0, true)).dataSegments(Segment.realMode(0, false));
                second.setSpecialRegisters(s);
                second.setRegisters(new Registers().rip(0x1000).rsp(0x8000));

                VcpuExit exit = second.run(ports, new MmioBus());

                assertThat(exit).isInstanceOf(VcpuExit.Halted.class);
            }
        }

        assertThat(reported).hasSize(5);
        ByteBuffer vendor = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 3; i++) vendor.putInt((int) (long) reported.get(i));
        assertThat(new String(vendor.array(), StandardCharsets.US_ASCII)).isEqualTo("AuthenticAMD");
        assertThat(reported.get(3) >>> 31).as("leaf 1 ECX hypervisor bit").isEqualTo(1);
        assertThat(reported.get(4) >>> 24).as("leaf 1 EBX initial APIC ID of vCPU 1").isEqualTo(1);
        assertThat((reported.get(4) >>> 16) & 0xFF).as("leaf 1 EBX logical processors").isEqualTo(2);
    }
}
