package vmm.vfiouser.internal.server;

import static vmm.vfiouser.VfioUser.*;

import java.io.IOException;
import java.lang.System.Logger.Level;

import vmm.core.linux.PeerMemoryFault;
import vmm.vfiouser.VfioUser;
import vmm.vfiouser.internal.protocol.Channel;
import vmm.vfiouser.internal.protocol.Codec;
import vmm.vfiouser.internal.protocol.Message;
import vmm.vfiouser.internal.protocol.ProtocolException;
import vmm.core.linux.UnixSocketServer;

/**
 * One client on a vfio-user socket: reads its messages on the calling
 * thread and answers them in order. A request the server refuses gets an
 * error reply with an errno and the connection goes on; a message that
 * cannot be followed (a bad header, a truncated message, too many
 * descriptors, a reply to nothing we sent, anything before VERSION) ends
 * the connection with one log line. Nothing the client sends makes an
 * exception leave {@link #serve()}; when it returns the function has been
 * reset and the client's memory and eventfds dropped.
 */
public final class ServerConnection implements UnixSocketServer.Peer {
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");
    /** Descriptors one message may carry; SET_IRQS with more vectors comes in several messages. */
    public static final int MAX_MSG_FDS = 16;
    public static final int MAX_DATA_XFER_SIZE = 1 << 20;
    static final int MAX_MESSAGE = HEADER_SIZE + REGION_ACCESS_SIZE + MAX_DATA_XFER_SIZE;
    /** Refusals logged at WARNING per connection; later ones at DEBUG, so a client cannot flood the log. */
    private static final int LOGGED_REFUSALS = 8;

    private final Channel channel;
    private final ServedFunction function;
    private final String name;
    private boolean versioned;
    private int clientMaxDataXfer = DEFAULT_MAX_DATA_XFER_SIZE;
    private int refusals;
    private volatile String failure;

    /** Takes ownership of the connected socket {@code fd}. */
    public ServerConnection(int fd, ServedFunction function, String name) {
        this.channel = new Channel(fd, MAX_MSG_FDS, MAX_MESSAGE);
        this.function = function;
        this.name = name;
    }

    /** Why the connection was cut off, or null if the client left by itself. */
    @Override
    public String failure() {
        return failure;
    }

    /** Serves until the client leaves or is cut off; then cleans up. */
    @Override
    public void serve() {
        try {
            while (true) {
                Message m;
                try {
                    m = channel.receive(-1);
                } catch (ProtocolException e) {
                    fail(e.getMessage());
                    return;
                } catch (IOException e) {
                    if (failure == null && !"channel closed".equals(e.getMessage())) fail("socket: " + e.getMessage());
                    return;
                }
                if (m == null) {
                    LOG.log(Level.INFO, "{0}: client disconnected", name);
                    return;
                }
                if (!handle(m)) return;
            }
        } catch (RuntimeException e) {
            fail("internal error: " + e);
            LOG.log(Level.ERROR, name + ": internal error", e);
        } catch (InternalError e) {
            if (!PeerMemoryFault.is(e)) throw e;
            memoryFault();
        } finally {
            channel.close();
            try {
                function.disconnect();
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, name + ": cleaning up after the client failed", e);
            } catch (InternalError e) {
                if (!PeerMemoryFault.is(e)) throw e;
                LOG.log(Level.WARNING, "{0}: client memory fault while cleaning up", name);
            }
        }
    }

    /** Handles one message; false when the connection must end. */
    private boolean handle(Message m) {
        if (m.isReply()) {
            Channel.closeAll(m.fds());
            fail("a reply (id " + m.id() + ", " + VfioUser.commandName(m.command()) + ") to a request this server never sent");
            return false;
        }
        if (!versioned && m.command() != VFIO_USER_VERSION) {
            Channel.closeAll(m.fds());
            fail(VfioUser.commandName(m.command()) + " before VERSION");
            return false;
        }
        // A device worker that faulted on the client's memory only marked the device broken: look before
        // serving the client further (an fstat per unsealed DMA region; QEMU's are sealed).
        String shrunk = function.dmaShrunk();
        if (shrunk != null) {
            Channel.closeAll(m.fds());
            fail("client memory fault: " + shrunk);
            return false;
        }
        Message reply;
        try {
            reply = dispatch(m);
        } catch (ProtocolException e) {
            if (e.fatal()) {
                fail(e.getMessage());
                return false;
            }
            refused(m, e);
            reply = Message.errorReply(m, e.errno());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, name + ": " + VfioUser.commandName(m.command()) + " failed in the device", e);
            reply = Message.errorReply(m, EIO);
        }
        if (m.noReply() && !reply.isError()) return true;
        try {
            channel.send(reply);
        } catch (IOException e) {
            fail("cannot reply: " + e.getMessage());
            return false;
        }
        return true;
    }

    /** An access to the client's memory faulted: it shrank a file it shared, and is cut off. */
    private void memoryFault() {
        String why = function.dmaShrunk();
        fail("client memory fault: " + (why != null ? why : "an access to its DMA memory faulted"));
    }

    private void refused(Message m, ProtocolException e) {
        refusals++;
        Level level = refusals <= LOGGED_REFUSALS ? Level.WARNING : Level.DEBUG;
        LOG.log(level, "{0}: refused {1} (errno {2}): {3}", name, VfioUser.commandName(m.command()), e.errno(), e.getMessage());
    }

    private void noFds(Message m) throws ProtocolException {
        if (m.fds().length > 0) {
            Channel.closeAll(m.fds());
            throw ProtocolException.invalid(VfioUser.commandName(m.command()) + " carries " + m.fds().length + " file descriptors; it takes none");
        }
    }

    private Message dispatch(Message m) throws ProtocolException {
        byte[] p = m.payload();
        switch (m.command()) {
            case VFIO_USER_VERSION -> {
                noFds(m);
                if (versioned) throw ProtocolException.invalid("a second VERSION");
                Codec.Version v = Codec.decodeVersion(p);
                if (v.major() != VERSION_MAJOR)
                    throw ProtocolException.fatal("client proposes version " + v.major() + "." + v.minor() + "; this server speaks " + VERSION_MAJOR + "." + VERSION_MINOR);
                clientMaxDataXfer = Math.min(v.capabilities().maxDataXferSize(), MAX_DATA_XFER_SIZE);
                versioned = true;
                LOG.log(Level.INFO, "{0}: client connected (version {1}.{2})", name, v.major(), Math.min(v.minor(), VERSION_MINOR));
                return Message.reply(m, Codec.encodeVersion(VERSION_MAJOR, Math.min(v.minor(), VERSION_MINOR),
                        new Codec.Capabilities(MAX_MSG_FDS, MAX_DATA_XFER_SIZE, DmaSpace.PAGE, DmaSpace.MAX_MAPS)));
            }
            case VFIO_USER_DMA_MAP -> {
                if (m.fds().length > 1) {
                    Channel.closeAll(m.fds());
                    throw ProtocolException.invalid("DMA_MAP with " + m.fds().length + " file descriptors; one at most");
                }
                int fd = m.fds().length == 1 ? m.fds()[0] : -1;
                Codec.DmaMap d;
                try {
                    d = Codec.decodeDmaMap(p);
                } catch (ProtocolException e) {
                    Channel.closeAll(m.fds());
                    throw e;
                }
                function.dmaMap(d, fd);
                return Message.reply(m, new byte[0]);
            }
            case VFIO_USER_DMA_UNMAP -> {
                noFds(m);
                function.dmaUnmap(Codec.decodeDmaUnmap(p));
                return Message.reply(m, p);
            }
            case VFIO_USER_DEVICE_GET_INFO -> {
                noFds(m);
                Codec.decodeDeviceInfoRequest(p);
                return Message.reply(m, Codec.encodeDeviceInfo(function.deviceInfo()));
            }
            case VFIO_USER_DEVICE_GET_REGION_INFO -> {
                noFds(m);
                return Message.reply(m, Codec.encodeRegionInfo(function.regionInfo(Codec.decodeRegionInfoRequest(p))));
            }
            case VFIO_USER_DEVICE_GET_IRQ_INFO -> {
                noFds(m);
                return Message.reply(m, Codec.encodeIrqInfo(function.irqInfo(Codec.decodeIrqInfoRequest(p))));
            }
            case VFIO_USER_DEVICE_SET_IRQS -> {
                Codec.IrqSet s;
                try {
                    s = Codec.decodeIrqSet(p, m.fds().length);
                } catch (ProtocolException e) {
                    Channel.closeAll(m.fds());
                    throw e;
                }
                function.setIrqs(s, m.fds());
                return Message.reply(m, new byte[0]);
            }
            case VFIO_USER_REGION_READ -> {
                noFds(m);
                Codec.RegionAccess a = Codec.decodeRegionRead(p, clientMaxDataXfer);
                return Message.reply(m, Codec.encodeRegionAccess(a.offset(), a.region(), a.count(), function.read(a.region(), a.offset(), a.count())));
            }
            case VFIO_USER_REGION_WRITE -> {
                noFds(m);
                Codec.RegionAccess a = Codec.decodeRegionWrite(p, MAX_DATA_XFER_SIZE);
                byte[] data = java.util.Arrays.copyOfRange(p, REGION_ACCESS_SIZE, p.length);
                function.write(a.region(), a.offset(), data);
                return Message.reply(m, Codec.encodeRegionAccess(a.offset(), a.region(), a.count(), new byte[0]));
            }
            case VFIO_USER_DEVICE_RESET -> {
                noFds(m);
                if (p.length != 0) throw ProtocolException.invalid("DEVICE_RESET takes no payload, got " + p.length + " bytes");
                function.reset();
                return Message.reply(m, new byte[0]);
            }
            default -> {
                Channel.closeAll(m.fds());
                throw ProtocolException.refuse(ENOSYS, VfioUser.commandName(m.command()) + " is not supported by this server");
            }
        }
    }

    private void fail(String why) {
        if (failure == null) failure = why;
        LOG.log(Level.WARNING, "{0}: disconnecting the client: {1}", name, why);
    }

    /** Cuts the client off (server shutdown); {@link #serve()} then returns. */
    @Override
    public void close() {
        channel.shutdown();
    }
}
