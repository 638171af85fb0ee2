/**
 * The Linux calls that bundles talking to other processes share, bound once
 * through {@code java.lang.foreign}: Unix stream sockets that carry file
 * descriptors ({@code SCM_RIGHTS}), eventfds, {@code poll}, shared mappings
 * of a peer's memory fds, and the one-peer-at-a-time socket server. Used by
 * vhost-user and vfio-user; not for devices.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package vmm.core.linux;
