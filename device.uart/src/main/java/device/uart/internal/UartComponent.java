package device.uart.internal;

import java.io.UncheckedIOException;
import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

import device.uart.backend.Backend;
import device.uart.model.UartModel;
import device.uart.model.UartRegisters;
import vmm.core.bus.BusConflictException;
import vmm.core.bus.Registration;
import vmm.core.irq.InterruptLine;
import vmm.core.machine.Machine;

/**
 * One 16550A per {@code device.uart} factory configuration (see
 * {@link UartConfig} for the keys), plugged into the core's {@link Machine}:
 * eight ports on its I/O-port bus, an interrupt line from its interrupt
 * controller, and the configured back end. The equivalent of bhyve's
 * {@code -l com1,stdio}. A configuration that cannot be served (a taken
 * port, an unknown back end, an address in use) fails activation with a
 * message naming the key; nothing stays registered or open.
 */
// immediate: the UART must exist while configured, not only while someone uses a service of it
@Component(configurationPid = UartComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {}, immediate = true)
public final class UartComponent {
    public static final String PID = "device.uart";
    private static final System.Logger LOG = System.getLogger(PID);

    private final UartConfig config;
    private final Backend backend;
    private final InterruptLine line;
    private final Uart uart;
    private final Registration registration;

    /**
     * @throws IllegalArgumentException naming the key when the configuration cannot be served
     */
    @Activate
    public UartComponent(@Reference Machine machine, Map<String, Object> properties) {
        config = UartConfig.parse(properties);
        String prefix = PID + " " + config.id() + ": ";
        try {
            backend = config.backend().open();
        } catch (UncheckedIOException | IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + "backend=" + config.backend() + ": " + e.getMessage(), e);
        }
        line = machine.irqChip().line(config.irq());
        uart = new Uart(new UartModel(), line, backend);
        try {
            registration = machine.ioPorts().register("uart " + config.id(), config.port(), UartRegisters.PORT_COUNT, uart);
        } catch (BusConflictException e) {
            backend.close();
            throw new IllegalArgumentException(prefix + String.format("port=0x%x: ", config.port()) + e.getMessage(), e);
        }
        uart.start();
        LOG.log(System.Logger.Level.INFO, "{0}: 16550A at 0x{1} irq {2} on {3}", config.id(),
                Integer.toHexString(config.port()), config.irq(), backend.describe());
    }

    @Deactivate
    public void deactivate() {
        registration.close();
        uart.stop();
        line.lower(); // the UART leaves its line for a successor; here there is none
        backend.close();
    }

    public UartConfig config() {
        return config;
    }

    /** The UART this component plugged, for diagnostics and tests. */
    public Uart uart() {
        return uart;
    }
}
