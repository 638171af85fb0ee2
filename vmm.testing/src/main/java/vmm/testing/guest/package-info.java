/**
 * One guest suite for every back end: small guest programs written with {@link vmm.testing.guest.Asm},
 * run in a {@link vmm.testing.guest.GuestVm} on whatever {@link vmm.core.hypervisor.Hypervisor} a
 * {@link vmm.testing.guest.GuestBackEnd} opens. The tests are JUnit 5 default methods of interfaces;
 * {@link vmm.testing.guest.GuestSuite} gathers them, so a back end's module runs them all with one
 * class of a few lines.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.testing.guest;
