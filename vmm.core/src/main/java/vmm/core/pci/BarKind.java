package vmm.core.pci;

/** What a base address register decodes. */
public enum BarKind {
    /** I/O-port space; 32-bit register, at least 4 ports. */
    IO,
    /** Memory below 4 GiB; one 32-bit register. */
    MEMORY32,
    /** Memory anywhere; a pair of registers (this index and the next). */
    MEMORY64
}
