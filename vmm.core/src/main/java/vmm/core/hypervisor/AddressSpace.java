package vmm.core.hypervisor;

/** Which guest address space an I/O event watches. */
public enum AddressSpace {
    /** The x86 I/O-port space (IN/OUT). */
    IO_PORT,
    /** Guest-physical addresses that are not RAM. */
    MMIO
}
