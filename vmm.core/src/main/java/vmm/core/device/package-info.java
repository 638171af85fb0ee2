/**
 * Devices as the core sees them: the lifecycle every device model follows,
 * its saved state, the providers that device bundles register, and the
 * instances (identity and guest-visible shell) that outlive any one provider.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.5.0")
package vmm.core.device;
