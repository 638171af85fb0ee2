package device.uart.internal;

import java.util.HashMap;
import java.util.Map;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import device.uart.backend.Backend;
import device.uart.model.UartModel;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;

/**
 * The 16550A as a device provider: a {@code vmm.device} configuration of type {@value #TYPE} with no address
 * (keys {@code port}, {@code irq} and {@code backend} as {@link UartConfig} reads them) becomes a core device
 * instance on the I/O-port bus, which can be swapped, detached and listed like any other. The back end is opened
 * once per instance and shared by the models of that instance this bundle makes: a swap hands it, open, with its
 * unread input still in the host's socket or terminal, to the successor, and it is closed when the last model of
 * the instance stops. A bundle update closes it, and the successor opens it again from the configuration (stdio
 * and a log go on; a tcp or unix peer must connect again).
 */
@Component(property = {DeviceProvider.TYPE + "=" + UartProvider.TYPE, DeviceProvider.IMPLEMENTATION + "=" + UartProvider.TYPE})
public final class UartProvider implements DeviceProvider {
    public static final String TYPE = "uart";

    /** An open back end and how many models use it. */
    private static final class Shared {
        final Backend backend;
        int users;

        Shared(Backend backend) {
            this.backend = backend;
        }
    }

    // Guarded by itself.
    private final Map<String, Shared> backends = new HashMap<>();

    @Override
    public DeviceModel create(DeviceContext context) {
        UartConfig config = UartConfig.parse(context.instanceId(), context.configuration());
        Backend backend = acquire(config);
        try {
            return new Uart(new UartModel(), context.interruptLine(config.irq()), backend, config.port(),
                    () -> release(config.id()));
        } catch (RuntimeException e) {
            release(config.id());
            throw e;
        }
    }

    private Backend acquire(UartConfig config) {
        synchronized (backends) {
            Shared s = backends.get(config.id());
            if (s == null) {
                Backend b;
                try {
                    b = config.backend().open();
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("device " + config.id() + ": backend=" + config.backend() + ": "
                            + e.getMessage(), e);
                }
                s = new Shared(b);
                backends.put(config.id(), s);
            }
            s.users++;
            return s.backend;
        }
    }

    private void release(String id) {
        Backend close = null;
        synchronized (backends) {
            Shared s = backends.get(id);
            if (s == null) return;
            if (--s.users == 0) {
                backends.remove(id);
                close = s.backend;
            }
        }
        if (close != null) close.close();
    }

    /** The bundle stops: every back end still open (its models are being stopped by the core) is closed. */
    @Deactivate
    void deactivate() {
        synchronized (backends) {
            backends.values().forEach(s -> s.backend.close());
            backends.clear();
        }
    }
}
