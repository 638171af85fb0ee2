package vmm.core.hypervisor;

/** Why {@link Vcpu#run} returned. */
public sealed interface VcpuExit {
    /** Whether this exit ends the VM: the guest cannot continue, or asked to stop. */
    boolean isFatal();

    /** A readable one-line description for logs and stop reports. */
    String describe();

    /** {@link Vcpu#kick} was called, or a host signal interrupted the run. Run again to continue. */
    record Interrupted() implements VcpuExit {
        @Override public boolean isFatal() { return false; }
        @Override public String describe() { return "interrupted"; }
    }

    /** The guest executed HLT and no in-kernel irqchip waits for an interrupt on its behalf. */
    record Halted() implements VcpuExit {
        @Override public boolean isFatal() { return false; }
        @Override public String describe() { return "halted"; }
    }

    /** The guest shut the CPU down: a triple fault, or a shutdown special cycle. */
    record Shutdown() implements VcpuExit {
        @Override public boolean isFatal() { return true; }
        @Override public String describe() { return "shutdown (triple fault)"; }
    }

    /**
     * The guest asked the platform for a system event.
     *
     * @param kind what it asked for
     * @param code the back end's event type number, for the report
     */
    record SystemEvent(Kind kind, int code) implements VcpuExit {
        public enum Kind { SHUTDOWN, RESET, CRASH, OTHER }

        @Override public boolean isFatal() { return true; }
        @Override public String describe() { return "system event " + kind.name().toLowerCase() + " (type " + code + ")"; }
    }

    /**
     * The hardware refused to enter the guest (an invalid guest state).
     *
     * @param reason      the hardware's failure code
     * @param explanation the vendor back end's reading of {@code reason}
     */
    record EntryFailed(long reason, String explanation) implements VcpuExit {
        @Override public boolean isFatal() { return true; }
        @Override public String describe() { return String.format("entry failed: reason 0x%x (%s)", reason, explanation); }
    }

    /**
     * The back end could not go on with the guest, for example an instruction
     * its emulator does not support.
     *
     * @param suberror the back end's code
     * @param what     the back end's reading of {@code suberror}
     * @param data     extra words the back end gave
     */
    record InternalError(int suberror, String what, long[] data) implements VcpuExit {
        @Override public boolean isFatal() { return true; }
        @Override public String describe() {
            StringBuilder s = new StringBuilder("internal error ").append(suberror).append(" (").append(what).append(")");
            if (data.length > 0) {
                s.append(", data");
                for (long d : data) s.append(String.format(" 0x%x", d));
            }
            return s.toString();
        }
    }

    /**
     * An exit this run loop has no use for.
     *
     * @param reason the back end's exit reason number
     * @param name   its name in the back end's headers
     */
    record Unhandled(int reason, String name) implements VcpuExit {
        @Override public boolean isFatal() { return true; }
        @Override public String describe() { return "unhandled exit " + name + " (" + reason + ")"; }
    }
}
