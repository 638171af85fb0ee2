package vmm.core.bus;

/** Guest-physical addresses that are not RAM and that devices decode. Thread-safe. */
public final class MmioBus extends AddressBus {
    public MmioBus() {
        super("mmio bus", 1L << 52);
    }
}
