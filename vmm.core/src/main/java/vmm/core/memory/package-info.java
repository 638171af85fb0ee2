/** Guest-physical memory: RAM regions over shared mmap'd memory and checked access to them. */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.core.memory;
