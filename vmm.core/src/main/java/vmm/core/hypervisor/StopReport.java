package vmm.core.hypervisor;

import java.util.HexFormat;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Why a VM stopped, and for a guest failure the state of the vCPU that failed.
 *
 * @param cause             what ended the run
 * @param vcpu              the vCPU that failed or halted last, or -1 when the stop was requested
 * @param exit              the exit that ended it, when one did
 * @param error             the exception that ended it, when one did (a device handler's, or the host's)
 * @param registers         the failing vCPU's registers, when they could be read
 * @param specialRegisters  the failing vCPU's special registers, when they could be read
 * @param instructionAddress the guest-physical address of the instruction at RIP, when it translates
 * @param instructionBytes  up to 16 bytes of guest memory from {@code instructionAddress} (empty if not RAM)
 */
public record StopReport(Cause cause, int vcpu, Optional<VcpuExit> exit, Optional<Throwable> error,
                         Optional<Registers> registers, Optional<SpecialRegisters> specialRegisters,
                         OptionalLong instructionAddress, byte[] instructionBytes) {

    public enum Cause {
        /** {@link VmRunner#stop()} was called. */
        REQUESTED,
        /** Every vCPU executed HLT with nothing to wake it (no in-kernel irqchip). */
        ALL_HALTED,
        /** A vCPU exit the guest cannot continue from: a triple fault, an emulation failure, a failed entry. */
        GUEST_FAILURE,
        /** An exception on a vCPU thread: a device handler's, or a failed host call. */
        ERROR
    }

    public StopReport {
        instructionBytes = instructionBytes.clone();
    }

    @Override
    public byte[] instructionBytes() {
        return instructionBytes.clone();
    }

    /** Whether the VM ended as intended (requested, or every vCPU halted). */
    public boolean isClean() {
        return cause == Cause.REQUESTED || cause == Cause.ALL_HALTED;
    }

    /** A multi-line text for logs and users. */
    public String describe() {
        StringBuilder s = new StringBuilder("VM stopped: ").append(cause.name().toLowerCase().replace('_', ' '));
        if (vcpu >= 0) s.append(" on vCPU ").append(vcpu);
        exit.ifPresent(e -> s.append(": ").append(e.describe()));
        error.ifPresent(t -> s.append(": ").append(t));
        s.append('\n');
        registers.ifPresent(r -> s.append(r));
        specialRegisters.ifPresent(r -> s.append(r));
        instructionAddress.ifPresent(a -> s.append(String.format("code at guest-physical 0x%x: %s%n", a,
                instructionBytes.length == 0 ? "(not in RAM)" : HexFormat.ofDelimiter(" ").formatHex(instructionBytes))));
        return s.toString();
    }

    @Override
    public String toString() {
        return describe();
    }
}
