package device.pci_passthru.internal;

import java.util.Map;

import device.pci_passthru.internal.kernel.HostPciAddress;
import vmm.core.pci.PciAddress;

/**
 * One passthrough's configuration, from a {@code device.pci-passthru} factory configuration:
 * <ul>
 * <li>{@code address}: the guest slot, as every device has it ({@code 0:6.0}, {@code 6})</li>
 * <li>{@code host}: the host function, bhyve's {@code BUS/SLOT/FUNCTION} or Linux's
 * {@code DDDD:BB:DD.F} (through the kernel's vfio-pci), or {@code TRANSPORT=TARGET}
 * for a device served by a {@link device.pci_passthru.vfio.VfioConnector}
 * (e.g. {@code vfio-user=/run/disk.sock})</li>
 * </ul>
 *
 * @param id        the instance's name (its configuration PID), for messages
 * @param address   guest PCI address
 * @param host      the kernel device, or null when a transport serves it
 * @param transport the transport's name, or null for the kernel
 * @param target    what the transport opens, or null for the kernel
 */
public record PassthruConfig(String id, PciAddress address, HostPciAddress host, String transport, String target) {

    /** @throws IllegalArgumentException naming the instance and the key that is wrong */
    public static PassthruConfig parse(Map<String, ?> props) {
        Object pid = props.get("service.pid");
        String id = pid != null ? String.valueOf(pid) : "passthru";
        String prefix = PassthruComponent.PID + " " + id + ": ";
        Object a = props.get("address");
        if (a == null) throw new IllegalArgumentException(prefix + "address is required (the guest slot, e.g. 0:6.0)");
        PciAddress address;
        try {
            address = PciAddress.parse(String.valueOf(a));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + "address=" + a + ": " + e.getMessage(), e);
        }
        Object h = props.get("host");
        if (h == null || String.valueOf(h).isBlank())
            throw new IllegalArgumentException(prefix + "host is required: BUS/SLOT/FUNCTION or DDDD:BB:DD.F of the host device, "
                    + "or vfio-user=SOCKET");
        String hs = String.valueOf(h).trim();
        int eq = hs.indexOf('=');
        if (eq >= 0) {
            String transport = hs.substring(0, eq).trim(), target = hs.substring(eq + 1).trim();
            if (!transport.matches("[a-z][a-z0-9-]*") || target.isEmpty())
                throw new IllegalArgumentException(prefix + "host=" + hs + ": expected TRANSPORT=TARGET, e.g. vfio-user=/run/disk.sock");
            return new PassthruConfig(id, address, null, transport, target);
        }
        try {
            return new PassthruConfig(id, address, HostPciAddress.parse(hs), null, null);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + "host=" + hs + ": " + e.getMessage(), e);
        }
    }

    /** What the guest function is passed from, for messages. */
    public String describe() {
        return host != null ? "host " + host + " (vfio-pci)" : transport + " " + target;
    }
}
