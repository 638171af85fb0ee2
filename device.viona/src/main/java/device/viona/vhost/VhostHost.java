package device.viona.vhost;

import java.io.IOException;

/** Whether and how this host's kernel data path for virtio-net (vhost-net) can be had. */
public interface VhostHost {
    /** Why vhost-net cannot be used here (for the log), or null when it can. */
    String unavailable();

    /** Opens one vhost-net instance (one per queue pair). */
    VhostIoctls open() throws IOException;

    /** The host's own {@code /dev/vhost-net}. */
    VhostHost LINUX = new VhostHost() {
        @Override
        public String unavailable() {
            if (!java.nio.file.Files.exists(java.nio.file.Path.of(LinuxVhost.DEVICE)))
                return "no " + LinuxVhost.DEVICE + " on this host (modprobe vhost_net)";
            return null;
        }

        @Override
        public VhostIoctls open() throws IOException {
            return LinuxVhost.open();
        }
    };
}
