/**
 * The software x86 CPU: architectural state, the table-driven decoder, decoded
 * blocks, the instruction semantics, paging with a software TLB, and
 * exceptions. Knows nothing of OSGi, threads or interrupt controllers beyond
 * the small interfaces it declares.
 */
package vmm.emu.internal.cpu;
