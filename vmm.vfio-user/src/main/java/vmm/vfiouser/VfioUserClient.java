package vmm.vfiouser;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import vmm.core.linux.Native;
import vmm.vfiouser.internal.protocol.Channel;
import vmm.vfiouser.internal.protocol.Codec;
import vmm.vfiouser.internal.protocol.Message;
import vmm.vfiouser.internal.protocol.ProtocolException;

/**
 * The client side of vfio-user: drives a PCI function that another process
 * serves, with the operations of a VFIO device fd. Connecting negotiates
 * version 0.1 and the capabilities; every call sends one request (or
 * several, split by the server's {@code max_data_xfer_size} and
 * {@code max_msg_fds}) and waits for its reply at most the reply timeout.
 *
 * <p>The server is not trusted: every reply is checked (type, id, command,
 * sizes, echoed fields). An error reply throws {@link VfioUserException}
 * with the server's errno and the connection goes on; a dead, silent or
 * malformed server throws one with {@link VfioUserException#connectionLost()}
 * and closes the client, after which every call throws at once. The server's
 * own requests (DMA_READ/DMA_WRITE) are answered with an error: this client
 * always hands over memory as file descriptors.
 *
 * <p>Thread-safe: calls are serialized, one request in flight at a time.
 */
public final class VfioUserClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");
    /** How long a reply may take by default. */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(5);
    /** What this client accepts: descriptors per message, bytes per read, and so the largest message. */
    static final int MAX_MSG_FDS = 8, MAX_DATA_XFER_SIZE = 1 << 20;
    private static final int MAX_MESSAGE = VfioUser.HEADER_SIZE + VfioUser.REGION_ACCESS_SIZE + MAX_DATA_XFER_SIZE + 4096;

    private final Channel channel;
    private final String peer;
    private final long timeoutMillis;
    private final Codec.Capabilities server;
    private final int minor;
    private int nextId;
    private volatile String failure;

    private VfioUserClient(Channel channel, String peer, long timeoutMillis, Codec.Capabilities server, int minor, int nextId) {
        this.channel = channel;
        this.peer = peer;
        this.timeoutMillis = timeoutMillis;
        this.server = server;
        this.minor = minor;
        this.nextId = nextId;
    }

    /** Connects to {@code socket} with {@link #DEFAULT_REPLY_TIMEOUT}. */
    public static VfioUserClient connect(Path socket) throws IOException {
        return connect(socket, DEFAULT_REPLY_TIMEOUT);
    }

    /**
     * Connects to the server on {@code socket} and negotiates the version.
     *
     * @throws VfioUserException when the server refuses the version, answers malformed or not in time
     * @throws IOException       when the socket cannot be reached
     */
    public static VfioUserClient connect(Path socket, Duration replyTimeout) throws IOException {
        return connect(socket, replyTimeout, replyTimeout);
    }

    /**
     * As {@link #connect(Path, Duration)}, waiting {@code versionTimeout} for the version reply and
     * {@code replyTimeout} for each later one (a test bounds a silent server's replies, not the handshake).
     */
    static VfioUserClient connect(Path socket, Duration versionTimeout, Duration replyTimeout) throws IOException {
        long timeout = Math.max(1, replyTimeout.toMillis());
        int fd = Native.connectUnix(socket.toString());
        Channel ch = new Channel(fd, MAX_MSG_FDS, MAX_MESSAGE);
        String peer = "vfio-user server " + socket;
        try {
            Message req = Message.command(0, VfioUser.VFIO_USER_VERSION, Codec.encodeVersion(VfioUser.VERSION_MAJOR, VfioUser.VERSION_MINOR,
                    new Codec.Capabilities(MAX_MSG_FDS, MAX_DATA_XFER_SIZE, 4096, 65535)));
            ch.send(req);
            Message reply = awaitReply(ch, peer, req, Math.max(1, versionTimeout.toMillis()));
            Channel.closeAll(reply.fds());
            if (reply.isError())
                throw new VfioUserException(peer + " refused version " + VfioUser.VERSION_MAJOR + "." + VfioUser.VERSION_MINOR
                        + " (errno " + reply.error() + ")", reply.error());
            Codec.Version v = Codec.decodeVersion(reply.payload());
            if (v.major() != VfioUser.VERSION_MAJOR || v.minor() > VfioUser.VERSION_MINOR)
                throw new VfioUserException(peer + " answered version " + v.major() + "." + v.minor() + " to a proposal of "
                        + VfioUser.VERSION_MAJOR + "." + VfioUser.VERSION_MINOR, -1);
            Codec.Capabilities c = v.capabilities();
            Codec.Capabilities usable = new Codec.Capabilities(Math.min(c.maxMsgFds(), Native.MAX_FDS_LIMIT),
                    Math.min(c.maxDataXferSize(), MAX_DATA_XFER_SIZE), c.pgsizes(), c.maxDmaMaps());
            return new VfioUserClient(ch, peer, timeout, usable, v.minor(), 1);
        } catch (ProtocolException e) {
            ch.close();
            throw new VfioUserException(peer + ": malformed VERSION reply: " + e.getMessage(), -1);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e instanceof VfioUserException ve ? ve : new VfioUserException(peer + ": version negotiation failed: " + e.getMessage(), e);
        }
    }

    /** The protocol minor version agreed (major is 0). */
    public int minorVersion() { return minor; }

    /** The server's {@code max_msg_fds}: descriptors it takes per message. */
    public int serverMaxMsgFds() { return server.maxMsgFds(); }

    /** The server's {@code max_data_xfer_size} (at most this client's own 1 MiB): bytes per region access. */
    public int serverMaxDataXferSize() { return server.maxDataXferSize(); }

    /** Why the connection was lost, or null while it is open. */
    public String failure() { return failure; }

    public boolean isOpen() { return failure == null; }

    /** VFIO_USER_DEVICE_GET_INFO. */
    public DeviceInfo deviceInfo() throws VfioUserException {
        Message r = call(VfioUser.VFIO_USER_DEVICE_GET_INFO, Codec.encodeDeviceInfoRequest());
        return decode(() -> Codec.decodeDeviceInfo(r.payload()));
    }

    /** VFIO_USER_DEVICE_GET_REGION_INFO for region {@code index}; a mappable region's fd is the caller's to close. */
    public RegionInfo regionInfo(int index) throws VfioUserException {
        Message r = call(VfioUser.VFIO_USER_DEVICE_GET_REGION_INFO, Codec.encodeRegionInfoRequest(index));
        int fd = r.fds().length > 0 ? r.fds()[0] : -1;
        for (int i = 1; i < r.fds().length; i++) Native.close(r.fds()[i]);
        try {
            RegionInfo info = decode(() -> Codec.decodeRegionInfo(r.payload(), index, fd));
            if (info.fd() < 0) Native.close(fd);
            return info;
        } catch (VfioUserException e) {
            Native.close(fd);
            throw e;
        }
    }

    /** VFIO_USER_DEVICE_GET_IRQ_INFO for IRQ type {@code index}. */
    public IrqInfo irqInfo(int index) throws VfioUserException {
        Message r = call(VfioUser.VFIO_USER_DEVICE_GET_IRQ_INFO, Codec.encodeIrqInfoRequest(index));
        return decode(() -> Codec.decodeIrqInfo(r.payload(), index));
    }

    /**
     * Reads {@code count} bytes of region {@code index} from {@code offset},
     * in requests of at most the server's {@code max_data_xfer_size}.
     */
    public byte[] regionRead(int index, long offset, int count) throws VfioUserException {
        if (count < 0 || offset < 0) throw new IllegalArgumentException("offset and count must not be negative");
        byte[] out = new byte[count];
        for (int done = 0; done < count; ) {
            int n = Math.min(count - done, server.maxDataXferSize());
            Codec.RegionAccess a = new Codec.RegionAccess(offset + done, index, n);
            Message r = call(VfioUser.VFIO_USER_REGION_READ, Codec.encodeRegionAccess(a.offset(), index, n, new byte[0]));
            byte[] data = decode(() -> Codec.decodeRegionReadReply(r.payload(), a));
            System.arraycopy(data, 0, out, done, n);
            done += n;
        }
        return out;
    }

    /** Writes {@code data} to region {@code index} at {@code offset}, split as reads are. */
    public void regionWrite(int index, long offset, byte[] data) throws VfioUserException {
        if (offset < 0) throw new IllegalArgumentException("offset must not be negative");
        for (int done = 0; done < data.length; ) {
            int n = Math.min(data.length - done, server.maxDataXferSize());
            Codec.RegionAccess a = new Codec.RegionAccess(offset + done, index, n);
            Message r = call(VfioUser.VFIO_USER_REGION_WRITE, Codec.encodeRegionAccess(a.offset(), index, n, Arrays.copyOfRange(data, done, done + n)));
            decode(() -> {
                Codec.decodeRegionWriteReply(r.payload(), a);
                return null;
            });
            done += n;
        }
    }

    /**
     * Routes vectors {@code start..start+eventfds.length-1} of IRQ type
     * {@code index} to {@code eventfds} (ACTION_TRIGGER, DATA_EVENTFD), in
     * messages of at most the server's {@code max_msg_fds}. The descriptors
     * stay the caller's (the server gets copies).
     */
    public void setIrqEventfds(int index, int start, int... eventfds) throws VfioUserException {
        int step = Math.max(1, server.maxMsgFds());
        for (int done = 0; done < eventfds.length; done += step) {
            int n = Math.min(step, eventfds.length - done);
            setIrqs(index, VfioUser.VFIO_IRQ_SET_DATA_EVENTFD | VfioUser.VFIO_IRQ_SET_ACTION_TRIGGER, start + done, n, new byte[0],
                    Arrays.copyOfRange(eventfds, done, done + n));
        }
    }

    /** Turns every interrupt of type {@code index} off (count 0, DATA_NONE, ACTION_TRIGGER). */
    public void disableIrqs(int index) throws VfioUserException {
        setIrqs(index, VfioUser.VFIO_IRQ_SET_DATA_NONE | VfioUser.VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, new byte[0]);
    }

    /** Masks ({@code masked}) or unmasks one vector of type {@code index} (DATA_NONE, ACTION_MASK/UNMASK). */
    public void maskIrq(int index, int vector, boolean masked) throws VfioUserException {
        setIrqs(index, VfioUser.VFIO_IRQ_SET_DATA_NONE | (masked ? VfioUser.VFIO_IRQ_SET_ACTION_MASK : VfioUser.VFIO_IRQ_SET_ACTION_UNMASK),
                vector, 1, new byte[0]);
    }

    /** One VFIO_USER_DEVICE_SET_IRQS as given ({@code struct vfio_irq_set}); at most the server's max_msg_fds descriptors. */
    public void setIrqs(int index, int flags, int start, int count, byte[] bools, int... fds) throws VfioUserException {
        if (fds.length > server.maxMsgFds())
            throw new IllegalArgumentException(fds.length + " descriptors, the server takes " + server.maxMsgFds() + " per message");
        call(VfioUser.VFIO_USER_DEVICE_SET_IRQS, Codec.encodeIrqSet(flags, index, start, count, bools), fds);
    }

    /**
     * Lets the device reach {@code [iova, iova+size)}: {@code size} bytes of
     * {@code fd} from {@code fileOffset} (a memfd of guest RAM), readable and,
     * if {@code writable}, writable. The fd stays the caller's.
     */
    public void dmaMap(long iova, long size, int fd, long fileOffset, boolean writable) throws VfioUserException {
        if (fd < 0) throw new IllegalArgumentException("this client maps DMA through a file descriptor");
        int flags = VfioUser.VFIO_USER_F_DMA_REGION_READ | (writable ? VfioUser.VFIO_USER_F_DMA_REGION_WRITE : 0);
        call(VfioUser.VFIO_USER_DMA_MAP, Codec.encodeDmaMap(new Codec.DmaMap(flags, fileOffset, iova, size)), fd);
    }

    /** Withdraws a mapping made with exactly this address and size; the server drops every reference before it answers. */
    public void dmaUnmap(long iova, long size) throws VfioUserException {
        call(VfioUser.VFIO_USER_DMA_UNMAP, Codec.encodeDmaUnmap(new Codec.DmaUnmap(0, iova, size)));
    }

    /** VFIO_USER_DEVICE_RESET: a function-level reset. */
    public void reset() throws VfioUserException {
        call(VfioUser.VFIO_USER_DEVICE_RESET, new byte[0]);
    }

    private interface Decoder<T> {
        T decode() throws ProtocolException;
    }

    private <T> T decode(Decoder<T> d) throws VfioUserException {
        try {
            return d.decode();
        } catch (ProtocolException e) {
            throw lost("malformed reply: " + e.getMessage());
        }
    }

    /** Sends one request and returns its successful reply; descriptors of the reply belong to the caller. */
    private synchronized Message call(int command, byte[] payload, int... fds) throws VfioUserException {
        if (failure != null) throw new VfioUserException(peer + ": connection lost: " + failure, -1);
        int id = nextId;
        nextId = (nextId + 1) & 0xffff;
        Message req = Message.command(id, command, payload, fds);
        Message reply;
        try {
            channel.send(req);
            reply = awaitReply(channel, peer, req, timeoutMillis);
        } catch (InterruptedIOException e) {
            throw lost("no reply to " + VfioUser.commandName(command) + " within " + timeoutMillis + " ms");
        } catch (VfioUserException e) {
            throw lost(e.getMessage());
        } catch (ProtocolException e) {
            throw lost(e.getMessage());
        } catch (IOException e) {
            throw lost(VfioUser.commandName(command) + ": " + e.getMessage());
        }
        if (reply.isError()) {
            Channel.closeAll(reply.fds());
            throw new VfioUserException(peer + " refused " + VfioUser.commandName(command) + " (errno " + reply.error() + ")", reply.error());
        }
        if (command != VfioUser.VFIO_USER_DEVICE_GET_REGION_INFO && reply.fds().length > 0) {
            Channel.closeAll(reply.fds());
            throw lost(VfioUser.commandName(command) + " reply carried file descriptors");
        }
        return reply;
    }

    /** Reads until the reply to {@code req}, refusing the server's own requests on the way. */
    private static Message awaitReply(Channel ch, String peer, Message req, long timeoutMillis) throws IOException, ProtocolException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000L);
            if (deadline - System.nanoTime() <= 0) throw new InterruptedIOException("timeout");
            Message m = ch.receive(left);
            if (m == null) throw new VfioUserException(peer + " closed the connection", -1);
            if (m.isCommand()) {
                // The server asks for DMA through the socket (or anything else): we only give memory as fds.
                Channel.closeAll(m.fds());
                if (!m.noReply()) ch.send(Message.errorReply(m, VfioUser.ENOTSUP));
                LOG.log(Level.DEBUG, "{0}: refused its {1}", peer, VfioUser.commandName(m.command()));
                continue;
            }
            if (m.id() != req.id() || m.command() != req.command()) {
                Channel.closeAll(m.fds());
                throw ProtocolException.fatal("a reply to " + VfioUser.commandName(m.command()) + " id " + m.id()
                        + ", while waiting for " + VfioUser.commandName(req.command()) + " id " + req.id());
            }
            return m;
        }
    }

    private VfioUserException lost(String why) {
        if (failure == null) {
            failure = why;
            LOG.log(Level.WARNING, "{0}: connection lost: {1}", peer, why);
            channel.close();
        }
        return new VfioUserException(peer + ": connection lost: " + why, -1);
    }

    /**
     * Closes the connection; the server resets the device and drops our
     * memory and eventfds. Idempotent; not serialized with calls, so a call
     * blocked on the server is woken and fails.
     */
    @Override
    public void close() {
        if (failure == null) failure = "closed";
        channel.close();
    }

    @Override
    public String toString() {
        return "VfioUserClient[" + peer + (failure == null ? "" : ", " + failure) + "]";
    }
}
