package device.viona.vhost;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The seam under the vhost-net engine: ioctls on one open
 * {@code /dev/vhost-net} descriptor, and the eventfds the kernel kicks and
 * calls through. {@link LinuxVhost} is the real one; a test records what
 * crosses this seam and checks it against the kernel's uapi.
 *
 * <p>Threading: called by the device's lifecycle (one call at a time), and
 * {@link #signal}/{@link #drain} also by the kick and call threads.
 */
public interface VhostIoctls extends AutoCloseable {
    /**
     * ioctl(2) with {@code request} and {@code arg} (a native segment holding
     * the uapi struct, read and, for _IOR/_IOWR requests, written by the
     * kernel; {@link MemorySegment#NULL} for _IO requests).
     *
     * @throws IOException with the errno when the kernel refuses
     */
    void ioctl(long request, MemorySegment arg) throws IOException;

    /** A new eventfd for a kick or call. */
    int eventfd() throws IOException;

    /** Adds 1 to eventfd {@code fd} (a kick). */
    void signal(int fd);

    /** Waits up to {@code timeoutMillis} for any of {@code fds} and clears them; returns the indices that fired. */
    int[] drain(int[] fds, long timeoutMillis) throws IOException;

    /** Closes the vhost descriptor and the eventfds made here. */
    @Override
    void close();
}
