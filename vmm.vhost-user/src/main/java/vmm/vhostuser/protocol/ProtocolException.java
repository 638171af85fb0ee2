package vmm.vhostuser.protocol;

/** The front-end broke the protocol (a malformed message, a bad value or descriptor); its connection is closed. */
public final class ProtocolException extends Exception {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }

    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
