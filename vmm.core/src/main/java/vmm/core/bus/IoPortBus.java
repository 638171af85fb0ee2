package vmm.core.bus;

/** The x86 I/O-port space: 64 KiB of ports reached by IN and OUT. Thread-safe. */
public final class IoPortBus extends AddressBus {
    public IoPortBus() {
        super("io-port bus", 0x10000);
    }
}
