/**
 * The device test kit, what QEMU's qtest/libqos is for QEMU: a
 * {@link vmm.testing.TestMachine} with no CPU, a firmware-like
 * {@link vmm.testing.PciHarness}, a {@link vmm.testing.VirtioDriver} that
 * follows the specification's driver-initialization sequence, the
 * {@link vmm.testing.TestMachineExtension} for JUnit 5,
 * {@link vmm.testing.VmmAssertions} for AssertJ, and the
 * {@link vmm.testing.HangGuard} that every wait for a state is bounded by.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package vmm.testing;
