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
 * its DMA and attaches the function; a device that cannot be had fails activation with
 * the one message saying why and how to fix it, before the guest starts. Deactivation
 * resets and releases the device.
 */
@Component(configurationPid = PassthruComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {}, immediate = true)
public final class PassthruComponent {
    public static final String PID = "device.pci-passthru";
    private static final System.Logger LOG = System.getLogger(PID);

    private final PassthruConfig config;
    private final VfioDevice device;
    private final PassthroughFunction function;

    /**
     * @param connectors the transports present; greedy, so a transport bundle that arrives later
     *                   reactivates a configuration that named it
     * @throws IllegalArgumentException when the configuration is malformed
     * @throws VfioException            when the device cannot be opened or passed through
     */
    @Activate
    public PassthruComponent(@Reference PcMachine pc,
            @Reference(cardinality = ReferenceCardinality.MULTIPLE, policyOption = ReferencePolicyOption.GREEDY) List<VfioConnector> connectors,
            BundleContext context, Map<String, Object> properties) {
        config = PassthruConfig.parse(properties);
        String prefix = PID + " " + config.id() + " (" + config.describe() + " at " + config.address() + "): ";
        try {
            device = config.host() != null ? VfioHost.linux().open(config.host()) : connector(context, prefix).open(config.target());
        } catch (VfioException | IllegalArgumentException e) {
            LOG.log(Level.ERROR, prefix + e.getMessage());
            throw e;
        }
        Machine m = pc.machine();
        try {
            function = PassthroughFunction.attach("passthru " + config.address() + " (" + device.name() + ")", config.address(), device,
                    m.pci(), m.ioPorts(), m.mmio(), pc.vm(), m.memory());
        } catch (RuntimeException e) {
            device.close();
            LOG.log(Level.ERROR, prefix + e.getMessage());
            throw e;
        }
        LOG.log(Level.INFO, "{0}: {1} passed through at {2}", config.id(), config.describe(), config.address());
    }

    private VfioConnector connector(BundleContext context, String prefix) {
        Collection<ServiceReference<VfioConnector>> refs;
        try {
            refs = context.getServiceReferences(VfioConnector.class, "(" + VfioConnector.TRANSPORT + "=" + config.transport() + ")");
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(prefix + "transport name " + config.transport() + " is not valid", e);
        }
        for (ServiceReference<VfioConnector> r : refs) {
            VfioConnector c = context.getService(r);
            if (c != null) return c;
        }
        throw new VfioException("no " + config.transport() + " transport is installed (its bundle, e.g. vmm.vfio-user, must be running)");
    }

    @Deactivate
    public void deactivate() {
        function.close();
        device.close();
    }

    /** The function this component attached, for diagnostics and tests. */
    public PassthroughFunction function() {
        return function;
    }
}
