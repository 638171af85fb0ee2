package vmm.launcher.internal;

import java.nio.file.Path;
import java.util.Collection;
import java.util.List;

/**
 * Which CPU back end a run uses: what {@code --accel} (configuration {@code vmm.vm} {@code accel}) asks for,
 * against the {@code Hypervisor} services that registered. KVM keeps priority when it works; the software CPU
 * ({@code vmm.emu}) serves when no KVM back end registered, or when asked. Pure: the caller gives the registered
 * back ends and why KVM is missing.
 */
final class Accel {
    /** The values {@code --accel} takes. */
    static final List<String> NAMES = List.of("auto", "kvm", "emu");
    /** The service property every {@code Hypervisor} carries, e.g. {@code kvm/amd-v} or {@code emu}. */
    static final String BACKEND_PROPERTY = "vmm.hypervisor.backend";

    /**
     * What was chosen.
     *
     * @param accel  {@code kvm} or {@code emu}
     * @param target the filter that binds the {@code vmm.vm} component's hypervisor reference to that back end
     * @param note   a line to tell the user (why auto fell back to the software CPU), or null
     */
    record Choice(String accel, String target, String note) {}

    /** A choice that cannot be made; the message is the one line the user sees. */
    static final class Unavailable extends Exception {
        private static final long serialVersionUID = 1L;

        Unavailable(String message) {
            super(message);
        }
    }

    private Accel() {}

    /** The accelerator a back-end name belongs to: {@code kvm/vt-x} is {@code kvm}, {@code emu} is {@code emu}. */
    static String of(String backEnd) {
        int slash = backEnd.indexOf('/');
        return slash < 0 ? backEnd : backEnd.substring(0, slash);
    }

    /**
     * Chooses.
     *
     * @param requested  {@code auto}, {@code kvm} or {@code emu}
     * @param backEnds   the {@link #BACKEND_PROPERTY} of every registered hypervisor
     * @param kvmProblem why no KVM back end registered (see {@link #kvmProblem}); read only when none did
     * @throws Unavailable when the requested back end (or, for auto, any) is not there
     */
    static Choice choose(String requested, Collection<String> backEnds, String kvmProblem) throws Unavailable {
        boolean kvm = backEnds.stream().anyMatch(b -> of(b).equals("kvm"));
        boolean emu = backEnds.stream().anyMatch(b -> of(b).equals("emu"));
        switch (requested) {
            case "kvm" -> {
                if (kvm) return choice("kvm", null);
                throw new Unavailable("--accel kvm: " + kvmProblem);
            }
            case "emu" -> {
                if (emu) return choice("emu", null);
                throw new Unavailable("--accel emu: the software CPU (bundle vmm.emu) is not installed");
            }
            case "auto" -> {
                if (kvm) return choice("kvm", null);
                if (emu) return choice("emu", "no usable KVM (" + kvmProblem + "): running on the software CPU (vmm.emu)");
                throw new Unavailable("no CPU back end: " + kvmProblem + ", and the software CPU (bundle vmm.emu) is not installed");
            }
            default -> throw new Unavailable("the accelerator is auto, kvm or emu, not '" + requested + "'");
        }
    }

    private static Choice choice(String accel, String note) {
        return new Choice(accel, "(" + BACKEND_PROPERTY + "=" + accel + "*)", note);
    }

    /** Why no KVM back end registered on this host, as one phrase: what {@link HostAccess#kvmProblem} finds, if anything. */
    static String kvmProblem(Path device) {
        String problem = HostAccess.kvmProblem(device);
        return problem != null ? problem : "the KVM back end did not start on " + device + " (see the log above)";
    }
}
