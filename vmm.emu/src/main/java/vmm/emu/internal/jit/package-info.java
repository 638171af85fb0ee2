/**
 * The translator from x86 to JVM bytecode: hot decoded blocks of {@code vmm.emu.internal.cpu} compiled with
 * {@code java.lang.classfile} into hidden classes, so HotSpot compiles guest code further. The interpreter stays
 * the reference and runs whatever this package does not translate.
 */
package vmm.emu.internal.jit;
