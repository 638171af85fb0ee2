package device.virtio_net.backend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Opens back ends, shared per host resource within the process: a TAP
 * admits one holder per queue and a socket path one binder, but during a
 * hot swap the old and the new implementation of a device both hold the
 * back end for a moment. So the second {@link #open} of the same TAP or
 * socket gets the same descriptors (frames queued in the host stay queued
 * across the swap), and the resource is released when its last holder
 * closes. Thread-safe.
 */
public final class Backends {
    private static final Logger LOG = Logger.getLogger(Backends.class.getName());
    private static final Map<String, Shared> OPEN = new HashMap<>();

    private Backends() {}

    private static final class Shared {
        final NetBackend backend;
        final int pairs;
        int holders;

        Shared(NetBackend backend, int pairs) {
            this.backend = backend;
            this.pairs = pairs;
        }
    }

    /**
     * Opens (or joins) the back end {@code spec} with {@code pairs} queue pairs.
     *
     * @throws IllegalArgumentException naming the configuration key when the host refuses
     *                                  (a TAP that does not exist and cannot be created, a path that cannot be bound)
     *                                  or when the resource is already open with another queue count
     */
    public static NetBackend open(String instanceId, BackendSpec spec, int pairs) {
        return open(instanceId, spec, pairs, () -> {
            try {
                return switch (spec) {
                    case BackendSpec.Tap t -> TapBackend.open(t.name(), pairs);
                    case BackendSpec.Datagram d -> {
                        if (pairs != 1) throw new IOException("a datagram link has one queue pair, " + pairs + " asked");
                        yield DatagramBackend.open(d.local(), d.peer());
                    }
                };
            } catch (IOException e) {
                throw new IllegalArgumentException("device " + instanceId + ": " + spec.configKey() + ": " + e.getMessage(), e);
            }
        });
    }

    /** As {@link #open(String, BackendSpec, int)}, with the resource made by {@code opener} when not open yet (tests). */
    static synchronized NetBackend open(String instanceId, BackendSpec spec, int pairs, Supplier<NetBackend> opener) {
        Shared s = OPEN.get(spec.key());
        if (s == null) {
            s = new Shared(opener.get(), pairs);
            OPEN.put(spec.key(), s);
            LOG.log(Level.INFO, "device {0}: opened {1}", new Object[] {instanceId, s.backend.describe()});
        } else if (s.pairs != pairs) {
            throw new IllegalArgumentException("device " + instanceId + ": " + spec.configKey() + ": " + s.backend.describe()
                    + " is already open with " + s.pairs + " queue pairs, " + pairs + " asked");
        }
        s.holders++;
        return new Hold(spec.key(), s);
    }

    /** Whether the resource of {@code spec} is held by anyone in this process. */
    public static synchronized boolean isOpen(BackendSpec spec) {
        return OPEN.containsKey(spec.key());
    }

    private static synchronized void release(String key, Shared s) {
        if (--s.holders > 0) return;
        OPEN.remove(key);
        s.backend.close();
    }

    /** One holder's view: everything but close goes to the shared back end. */
    private static final class Hold implements NetBackend {
        private final String key;
        private final Shared shared;
        private final NetBackend b;
        private boolean closed;

        Hold(String key, Shared shared) {
            this.key = key;
            this.shared = shared;
            this.b = shared.backend;
        }

        @Override public int queuePairs() { return b.queuePairs(); }
        @Override public long offloadFeatures() { return b.offloadFeatures(); }
        @Override public void setReceiveOffloads(long negotiated) throws IOException { b.setReceiveOffloads(negotiated); }
        @Override public boolean send(int pair, MemorySegment header, MemorySegment... frame) throws IOException { return b.send(pair, header, frame); }
        @Override public int receive(int pair, MemorySegment buffer) throws IOException { return b.receive(pair, buffer); }
        @Override public boolean await(int pair, boolean readable, Waker waker, long timeoutMillis) throws IOException {
            return b.await(pair, readable, waker, timeoutMillis);
        }
        @Override public String describe() { return b.describe(); }
        @Override public java.util.OptionalInt hostDescriptor(int pair) { return b.hostDescriptor(pair); }

        @Override
        public void close() {
            synchronized (this) {
                if (closed) return;
                closed = true;
            }
            release(key, shared);
        }
    }
}
