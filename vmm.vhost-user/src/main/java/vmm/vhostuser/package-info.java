/** Serving a virtio device over vhost-user: {@link vmm.vhostuser.VhostUserServer}. */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package vmm.vhostuser;
