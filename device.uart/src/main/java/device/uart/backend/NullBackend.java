package device.uart.backend;

/** No peer: output is discarded (and counted), nothing is ever received. */
final class NullBackend extends AbstractBackend {
    NullBackend() {
        super("none");
        startWriter();
    }

    @Override
    void writeOut(byte[] b, int len) {
        discard(len);
    }

    @Override
    void closeResources() {}

    @Override
    public String describe() {
        return "none";
    }
}
