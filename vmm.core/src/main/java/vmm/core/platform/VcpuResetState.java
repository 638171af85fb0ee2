package vmm.core.platform;

import java.util.EnumMap;
import java.util.Map;
import java.util.stream.IntStream;

import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuStateBlock;

/**
 * A vCPU's power-on state, read right after the hypervisor created it (a
 * new vCPU is in the architectural RESET state: real mode at
 * F000:FFF0, caches and paging off, the LAPIC at its reset values, the
 * application processors waiting for SIPI) and written back when the
 * machine resets, since the SPI has no reset call of its own. The MSRs are
 * those an OS or firmware changes that survive nothing on a real reset:
 * SYSENTER/SYSCALL, PAT and the MTRRs, MISC_ENABLE, the TSC, and KVM's
 * paravirtual clock, async-PF, steal-time and PV-EOI registers, whose
 * guest addresses the hypervisor would otherwise keep writing into RAM the
 * next boot owns. An MSR the host does not let the guest have is not read,
 * so not written. Immutable.
 */
final class VcpuResetState {
    static final int[] MSRS = IntStream.concat(IntStream.of(
            0x10, 0x3b, 0x174, 0x175, 0x176, 0x1a0, 0x277, 0x2ff, 0x6e0,       // TSC .. TSC_DEADLINE
            0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103, // STAR .. TSC_AUX
            0x11, 0x12,                                                         // MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME
            0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d05, 0x4b564d06,
            0x250, 0x258, 0x259),                                               // fixed-range MTRRs
            IntStream.concat(IntStream.rangeClosed(0x200, 0x20f), IntStream.rangeClosed(0x268, 0x26f))).toArray();
    /** Restored in this order: MP_STATE last, so nothing runs before the rest is in place. */
    private static final VcpuStateBlock[] BLOCKS = {VcpuStateBlock.FPU, VcpuStateBlock.LAPIC, VcpuStateBlock.EVENTS,
            VcpuStateBlock.MP_STATE};

    private final Registers registers;
    private final SpecialRegisters specialRegisters;
    private final Map<Integer, Long> msrs;
    private final Map<VcpuStateBlock, byte[]> blocks = new EnumMap<>(VcpuStateBlock.class);

    private VcpuResetState(Vcpu vcpu) {
        registers = vcpu.registers();
        specialRegisters = vcpu.specialRegisters();
        msrs = Map.copyOf(vcpu.msrs(MSRS));
        for (VcpuStateBlock b : BLOCKS) blocks.put(b, vcpu.state(b));
    }

    /** Reads {@code vcpu}'s state; call before it first runs. */
    static VcpuResetState capture(Vcpu vcpu) {
        return new VcpuResetState(vcpu);
    }

    /** Puts {@code vcpu} back in the captured state; it must not be running (paused or not started). */
    void restore(Vcpu vcpu) {
        // The APIC base (in the special registers) before the LAPIC page it governs.
        vcpu.setSpecialRegisters(specialRegisters);
        vcpu.setRegisters(registers);
        vcpu.setMsrs(msrs);
        for (VcpuStateBlock b : BLOCKS) vcpu.setState(b, blocks.get(b));
    }
}
