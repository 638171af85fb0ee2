package vmm.launcher.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * What the launcher needs from the host, asked as the user who runs it: no
 * part of {@code ./vmm run} needs root. KVM is the one device it opens; the
 * shell's control sockets go to a directory of that user's own, so two users
 * (or root before an ordinary user) never meet on the same path.
 */
final class HostAccess {
    /** {@code /dev/kvm}, or the device {@code -Dvmm.kvm.device} names (as the KVM back ends open it). */
    static final Path KVM = Path.of(System.getProperty("vmm.kvm.device", "/dev/kvm"));

    private HostAccess() {}

    /**
     * Why this user cannot use the KVM device {@code dev}, as one line naming it and what to do, or null
     * when it opens for reading and writing (which is all KVM asks: no capability, no root).
     */
    static String kvmProblem(Path dev) {
        try (FileChannel c = FileChannel.open(dev, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return null;
        } catch (NoSuchFileException e) {
            return dev + " is missing: this host has no KVM (load kvm_amd or kvm_intel; in a VM, enable nested "
                    + "virtualization)";
        } catch (AccessDeniedException e) {
            String user = System.getProperty("user.name");
            return dev + " cannot be opened for reading and writing by user " + user + describe(dev)
                    + ": add the user to that group (usermod -aG GROUP " + user + ") and log in again";
        } catch (IOException | RuntimeException e) {
            return dev + " cannot be opened: " + e.getMessage();
        }
    }

    private static String describe(Path dev) {
        try {
            PosixFileAttributes a = Files.readAttributes(dev, PosixFileAttributes.class);
            return " (owner " + a.owner().getName() + ", group " + a.group().getName() + ", "
                    + PosixFilePermissions.toString(a.permissions()) + ")";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /**
     * The directory of this user's control sockets, made (mode 0700) if missing: {@code $VMM_RUN_DIR} when set
     * (a separate namespace of VM names, as parallel test runs need), else {@code $XDG_RUNTIME_DIR/vmm} where the
     * session has one, else {@code vmm-USER} in the temporary directory.
     *
     * @throws IllegalStateException when that path exists and is not a directory this user owns
     */
    static Path controlDirectory() {
        String runtime = System.getenv("XDG_RUNTIME_DIR"), own = System.getenv("VMM_RUN_DIR");
        boolean session = runtime != null && !runtime.isEmpty() && Files.isDirectory(Path.of(runtime))
                && Files.isWritable(Path.of(runtime));
        Path dir = own != null && !own.isBlank() ? Path.of(own)
                : session ? Path.of(runtime, "vmm")
                : Path.of(System.getProperty("java.io.tmpdir"), "vmm-" + System.getProperty("user.name"));
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS))
                Files.createDirectory(dir,
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isDirectory() || !a.owner().getName().equals(System.getProperty("user.name")))
                throw new IllegalStateException(dir + " is not a directory of user " + System.getProperty("user.name")
                        + ": remove it, or set XDG_RUNTIME_DIR");
            return dir;
        } catch (java.nio.file.FileAlreadyExistsException e) {
            return controlDirectory(); // made meanwhile by another vmm of this user: checked on the way round
        } catch (IOException e) {
            throw new IllegalStateException("cannot make " + dir + " for the shell's sockets: " + e.getMessage(), e);
        }
    }
}
