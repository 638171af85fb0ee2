package device.pci_passthru.vfio;

/**
 * A transport that opens {@link VfioDevice}s, offered as an OSGi service with the
 * property {@link #TRANSPORT} (e.g. {@code vfio-user}). The passthrough component
 * whose {@code host} property reads {@code TRANSPORT=TARGET} (for example
 * {@code vfio-user=/run/disk.sock}) asks the connector of that transport for
 * {@code TARGET}. The kernel's vfio-pci is built in and needs no connector.
 */
public interface VfioConnector {
    /** Service property naming the transport; a lower-case word without {@code =}. */
    String TRANSPORT = "device.pci_passthru.transport";

    /**
     * Opens the device named by {@code target} (its meaning is the transport's, e.g. a
     * socket path). Called on a component's activation thread; may block while the
     * peer answers, bounded by the transport.
     *
     * @throws IllegalArgumentException if {@code target} is malformed for this transport
     * @throws VfioException            if the device cannot be reached; the message says why and what to do
     */
    VfioDevice open(String target);
}
