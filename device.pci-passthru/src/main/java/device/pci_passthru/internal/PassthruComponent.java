package device.pci_passthru.internal;

import java.lang.System.Logger.Level;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import device.pci_passthru.internal.kernel.VfioHost;
import device.pci_passthru.vfio.VfioConnector;
import device.pci_passthru.vfio.VfioDevice;
import device.pci_passthru.vfio.VfioException;
import vmm.core.machine.Machine;
import vmm.core.platform.PcMachine;

/**
 * One passed-through PCI function per {@code device.pci-passthru} factory configuration
 * (see {@link PassthruConfig}), plugged into the {@link PcMachine}: the equivalent of bhyve's
 * {@code -s 6,passthru,1/0/0}. Like {@code device.uart} it is not a {@code vmm.device}
 * instance: a host device has no model to swap or save. Activation opens the device
 * (kernel VFIO, or the {@link VfioConnector} of the named transport), maps guest RAM for
 * its DMA and attaches the function. A device that cannot be had is one ERROR line saying
 * why and how to fix it (no stack trace: it is the user's setup, not a bug), and the
 * component stays without a function, so {@code vmm run} stops before the guest starts.
 * A malformed configuration fails activation. Deactivation resets and releases the device.
 */
@Component(configurationPid = PassthruComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {}, immediate = true)
public final class PassthruComponent {
    public static final String PID = "device.pci-passthru";
    private static final System.Logger LOG = System.getLogger(PID);

    private final PassthruConfig config;
    /** Both null when the device could not be had. */
    private final VfioDevice device;
    private final PassthroughFunction function;

    /**
     * @param connectors the transports present; greedy, so a transport bundle that arrives later
     *                   reactivates a configuration that named it
     * @throws IllegalArgumentException when the configuration is malformed
     */
    @Activate
    public PassthruComponent(@Reference PcMachine pc,
            @Reference(cardinality = ReferenceCardinality.MULTIPLE, policyOption = ReferencePolicyOption.GREEDY) List<VfioConnector> connectors,
            BundleContext context, Map<String, Object> properties) {
        config = PassthruConfig.parse(properties);
        String prefix = PID + " " + config.id() + " (" + config.describe() + " at " + config.address() + "): ";
        VfioDevice dev = null;
        PassthroughFunction fn = null;
        try {
            dev = config.host() != null ? VfioHost.linux().open(config.host()) : connector(context).open(config.target());
            Machine m = pc.machine();
            fn = PassthroughFunction.attach("passthru " + config.address() + " (" + dev.name() + ")", config.address(), dev,
                    m.pci(), m.ioPorts(), m.mmio(), pc.vm(), m.memory());
            LOG.log(Level.INFO, "{0}: {1} passed through at {2}", config.id(), config.describe(), config.address());
        } catch (VfioException | IllegalStateException | IllegalArgumentException e) {
            if (dev != null) dev.close();
            dev = null;
            LOG.log(Level.ERROR, prefix + e.getMessage());
        }
        device = dev;
        function = fn;
    }

    private VfioConnector connector(BundleContext context) {
        Collection<ServiceReference<VfioConnector>> refs;
        try {
            refs = context.getServiceReferences(VfioConnector.class, "(" + VfioConnector.TRANSPORT + "=" + config.transport() + ")");
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("transport name " + config.transport() + " is not valid", e);
        }
        for (ServiceReference<VfioConnector> r : refs) {
            VfioConnector c = context.getService(r);
            if (c != null) return c;
        }
        throw new VfioException("no " + config.transport() + " transport is installed (its bundle, e.g. vmm.vfio-user, must be running)");
    }

    @Deactivate
    public void deactivate() {
        if (function != null) function.close();
        if (device != null) device.close();
    }

    /** The function this component attached, or null when the device could not be had. */
    public PassthroughFunction function() {
        return function;
    }
}
