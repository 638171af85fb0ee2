package device.pci_passthru.internal.vfiouser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import device.pci_passthru.vfio.VfioConnector;
import device.pci_passthru.vfio.VfioDevice;
import device.pci_passthru.vfio.VfioException;
import vmm.vfiouser.VfioUserClient;
import vmm.vfiouser.VfioUserException;

/**
 * The vfio-user transport of passthrough: {@code host=vfio-user=SOCKET} connects to the
 * server listening on SOCKET (another VMM's {@code vmm vfio-user}, or any vfio-user server)
 * with {@link VfioUserClient} and drives it as a {@link VfioDevice}.
 */
@Component(property = VfioConnector.TRANSPORT + "=vfio-user")
public final class VfioUserConnector implements VfioConnector {

    @Override
    public VfioDevice open(String target) {
        Path socket = Path.of(target);
        if (!Files.exists(socket))
            throw new VfioException("vfio-user socket " + socket + " does not exist: start the server first (e.g. ./vmm vfio-user --socket "
                    + socket + " virtio-blk,disk.img)");
        try {
            return new VfioUserDevice(VfioUserClient.connect(socket), "vfio-user:" + socket);
        } catch (VfioUserException e) {
            throw new VfioException("vfio-user server on " + socket + ": " + e.getMessage(), e.errno(), e);
        } catch (IOException e) {
            throw new VfioException("cannot connect to the vfio-user server on " + socket + ": " + e.getMessage(), e);
        }
    }
}
