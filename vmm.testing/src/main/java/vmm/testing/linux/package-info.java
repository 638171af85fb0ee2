/**
 * Real Linux drivers against a device in a unit test: {@link vmm.testing.linux.LinuxGuest} boots Debian's
 * kernel package ({@code linux-image-cloud-amd64}, unmodified) on a CPU back end the test passes (vmm.emu's
 * software CPU runs it on any host) with an {@link vmm.testing.linux.Initramfs} that loads the package's own
 * modules and runs the test's shell script against the devices the test plugged, and hands back the console.
 * 1.1: {@code LinuxGuest.snapshot} and {@code restore}, a guest snapshot and restored into a fresh machine.
 * Tests skip, saying what to install, where the kernel, its modules or busybox are missing.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package vmm.testing.linux;
