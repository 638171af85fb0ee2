package vmm.core.bus;

/**
 * One range registered on a bus. {@link #close()} unregisters it; closing
 * twice is harmless. Accesses already dispatched may still complete after
 * close returns.
 */
public interface Registration extends AutoCloseable {
    long base();

    long length();

    /** Who registered it, for conflict messages and listings. */
    String owner();

    @Override
    void close();
}
