/**
 * The Linux calls that bundles share, bound once through {@code java.lang.foreign}.
 * {@link vmm.core.linux.Downcalls} is the one way to bind and call libc (a symbol,
 * a handle that captures {@code errno}, the call-and-check pattern and its failure
 * message, {@code open}/{@code close}/{@code ioctl}/{@code mmap}/{@code munmap});
 * the core, KVM and devices' own bindings build on it. {@link vmm.core.linux.Native}
 * adds what processes talking to each other need: Unix stream sockets that carry
 * file descriptors ({@code SCM_RIGHTS}), eventfds, {@code poll}, shared mappings
 * of a peer's memory fds, and the one-peer-at-a-time socket server (vhost-user,
 * vfio-user).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.3.0")
package vmm.core.linux;
