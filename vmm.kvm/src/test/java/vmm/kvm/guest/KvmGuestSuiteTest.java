package vmm.kvm.guest;

import vmm.testing.guest.GuestSuite;

/** The shared guest suite ({@code vmm.testing.guest}) on KVM, skipped where this host has no usable KVM. */
class KvmGuestSuiteTest implements GuestSuite, KvmBackEnd {
}
