package vmm.launcher.internal;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import vmm.core.machine.DeviceInstance;
import vmm.core.machine.Machine;
import vmm.launcher.internal.Arguments.Config;
import vmm.launcher.internal.Arguments.UsageException;

/**
 * A PCI function's bhyve_config(5) variables ({@code device}, {@code path},
 * {@code ro}, {@code backend}, {@code mac} ...) checked as the device will
 * check them and turned into its configuration properties, so a bad option is
 * one line before anything starts. bhyve's variables mean what they mean in
 * bhyve; the providers' own keys ({@code queues}, {@code offload}, ...) and
 * {@code implementation} pass through.
 */
final class Emulations {
    /** bhyve's devices this machine lacks, each refused in one line naming it. */
    static final List<String> LACKING = List.of("ahci", "ahci-cd", "ahci-hd", "e1000", "fbuf", "hda", "nvme", "uart",
            "virtio-9p", "virtio-console", "virtio-input", "virtio-scsi", "xhci");
    private static final Pattern MAC = Pattern.compile("(?i)[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    /** Host devices as bhyve ({@code BUS/SLOT/FUNC}, decimal) and lspci -D ({@code DDDD:BB:DD.F}) write them. */
    private static final Pattern HOST_PCI =
            Pattern.compile("\\d{1,3}/\\d{1,2}/\\d|(?i)([0-9a-f]{4}:)?[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]");

    private Emulations() {}

    /**
     * A device's configuration, or null for the chipset's functions ({@code hostbridge}, {@code lpc}) that are
     * always there.
     */
    static Config device(ConfigTree t, int slot, int func, String node) throws UsageException {
        return device(t, slot, func, node, Set.of());
    }

    /**
     * {@link #device(ConfigTree, int, int, String)}, where {@code providerTypes} are the installed providers'
     * types.
     */
    static Config device(ConfigTree t, int slot, int func, String node, Set<String> providerTypes)
            throws UsageException {
        String emulation = t.get(node + ".device"), at = t.origin(node + ".device");
        String spec = slot + (func == 0 ? "" : ":" + func) + "," + emulation;
        try {
            if (emulation.equals("hostbridge") || emulation.equals("amd_hostbridge")) {
                if (slot != Arguments.HOST_BRIDGE_SLOT) throw new UsageException("-s " + spec
                        + ": the host bridge is at slot 0 on this machine");
                return null;
            }
            if (emulation.equals("lpc")) return null; // the PIIX ISA bridge at 00:01.0 carries COM1/COM2 always
            if (lacking(emulation, providerTypes))
                throw new UsageException(emulation + ": this VMM has no " + emulation + " device (it has: "
                        + String.join(", ", known()) + ")");
            if (slot == Arguments.HOST_BRIDGE_SLOT || slot == Arguments.CHIPSET_SLOT)
                throw new UsageException("-s " + spec + ": slot " + slot + " is the chipset's ("
                        + (slot == 0 ? "host bridge" : "PIIX ISA bridge and power management") + ")");
            if (emulation.equals("passthru")) return passthru(t, node, spec, slot, func);
            Map<String, Object> props = properties(emulation, t, node, providerTypes);
            props.put("address", "0:" + slot + "." + func);
            return new Config("vmm.device", "s" + slot + "_" + func, props);
        } catch (UsageException e) {
            throw new UsageException(at.isEmpty() || e.getMessage().startsWith("-s ") ? e.getMessage() : at + ": "
                    + e.getMessage());
        }
    }

    /**
     * Provider types that are no PCI function: the COM ports' {@code uart} is {@code -l com1,BACKEND}, and
     * {@code -s SLOT,uart} stays refused as bhyve's LPC-only device.
     */
    private static final Set<String> NOT_PCI = Set.of("uart");
    /** Keys of a provider type's instance that the launcher sets itself. */
    private static final Set<String> RESERVED = Set.of("type", "address", "socket");

    /** Whether {@code name} is one of bhyve's devices this machine lacks, and no installed provider offers it. */
    private static boolean lacking(String name, Set<String> providerTypes) {
        return LACKING.contains(name) && (NOT_PCI.contains(name) || !providerTypes.contains(name));
    }

    /**
     * A type only an installed provider knows: its variables (bhyve's generic {@code key=value}, a bare key
     * {@code true}) as the instance's properties, strings as Configuration Admin holds them.
     */
    private static Map<String, Object> provided(String type, ConfigTree t, String node) throws UsageException {
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("type", type);
        for (String key : t.below(node)) {
            if (key.equals("device")) continue;
            if (RESERVED.contains(key))
                throw new UsageException(type + ": " + key + "= is the launcher's to set (from the emulation name, "
                        + "the slot or --socket)");
            String v = t.get(node + "." + key);
            if (v != null) props.put(key, v);
        }
        return props;
    }

    private static List<String> known() {
        List<String> k = new ArrayList<>(List.of("hostbridge", "lpc", "passthru"));
        k.addAll(Arguments.EMULATIONS.keySet());
        return k.stream().sorted().toList();
    }

    /**
     * {@code passthru}: bhyve's {@code bus}/{@code slot}/{@code func}, or our {@code host} (Linux's form) or
     * {@code vfio-user}.
     */
    private static Config passthru(ConfigTree t, String node, String spec, int slot, int func) throws UsageException {
        String host;
        if (t.has(node + ".bus") || t.has(node + ".slot") || t.has(node + ".func")) {
            host = t.get(node + ".bus", "0") + "/" + t.get(node + ".slot", "0") + "/" + t.get(node + ".func", "0");
        } else if (t.has(node + ".vfio-user")) {
            host = "vfio-user=" + t.get(node + ".vfio-user");
        } else {
            host = t.get(node + ".host");
        }
        if (host == null || host.isBlank())
            throw new UsageException("-s " + spec
                    + ": passthru needs the host device: passthru,BUS/SLOT/FUNC, passthru,DDDD:BB:DD.F or "
                            + "passthru,vfio-user=SOCKET");
        host = host.trim();
        if (host.startsWith("vfio-user=")) {
            Path socket = Path.of(host.substring("vfio-user=".length()));
            if (!Files.exists(socket))
                throw new UsageException("-s " + spec + ": " + socket
                        + ": no vfio-user socket there (start the server first: vmm vfio-user --socket " + socket
                                + " EMULATION)");
            host = "vfio-user=" + socket.toAbsolutePath();
        } else if (!HOST_PCI.matcher(host).matches()) {
            throw new UsageException("-s " + spec + ": host device '" + host
                    + "' is not BUS/SLOT/FUNC or DDDD:BB:DD.F (lspci -D lists them)");
        }
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("address", "0:" + slot + "." + func);
        props.put("host", host);
        return new Config("device.pci-passthru", "s" + slot + "_" + func, props);
    }

    /**
     * Emulation {@code name}'s variables under {@code node} as device configuration properties; the variables it
     * does not read stay unread in {@code t}, for the warning.
     */
    static Map<String, Object> properties(String name, ConfigTree t, String node) throws UsageException {
        return properties(name, t, node, Set.of());
    }

    /**
     * {@link #properties(String, ConfigTree, String)}, where an emulation no built-in table knows is a device
     * type of the installed providers ({@code providerTypes}): every variable under {@code node} passes to the
     * provider as it is, which refuses the bad ones by name when it makes the device.
     */
    static Map<String, Object> properties(String name, ConfigTree t, String node, Set<String> providerTypes)
            throws UsageException {
        String type = Arguments.EMULATIONS.get(name);
        if (type == null) {
            if (lacking(name, providerTypes))
                throw new UsageException(name + ": this VMM has no " + name + " device (it has: " + String.join(", ",
                        known()) + ")");
            if (providerTypes.contains(name)) return provided(name, t, node);
            String offered = String.join(", ", providerTypes.stream().filter(p -> !NOT_PCI.contains(p)).sorted()
                    .toList());
            throw new UsageException("unknown emulation '" + name + "' (known: " + String.join(", ",
                    Arguments.EMULATIONS.keySet().stream().sorted().toList()) + (offered.isEmpty() ? ""
                            : "; types of the installed device providers: " + offered) + ")");
        }
        Options o = new Options(t, node, name);
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("type", type);
        switch (type) {
            case "virtio-blk" -> block(o, props);
            case "virtio-net" -> net(name, o, props);
            case "virtio-rng" -> o.integer("max-bytes-per-request", 1, Integer.MAX_VALUE, props);
            case "virtio-vsock" -> vsock(o, props);
            default -> { }
        }
        String impl = o.get("implementation");
        if (impl != null) props.put("implementation", impl);
        o.integer(DeviceInstance.SWAP_WAIT_MS, 1, DeviceInstance.MAX_SWAP_WAIT_MS, props);
        Boolean removable = o.bool(Machine.REMOVABLE);
        if (removable != null) props.put(Machine.REMOVABLE, removable.toString());
        return props;
    }

    /** bhyve's block device variables: path, ro, sectorsize, ser, nocache, sync (direct), nodelete. */
    private static void block(Options o, Map<String, Object> props) throws UsageException {
        String path = o.get("path");
        if (path == null
                || path.isBlank()) throw new UsageException("virtio-blk needs a disk image: virtio-blk,PATH[,ro]");
        Path image;
        try {
            image = Path.of(path);
        } catch (java.nio.file.InvalidPathException e) {
            throw new UsageException("virtio-blk: path " + path + " is not a path: " + e.getReason());
        }
        if (!Files.exists(image)) throw new UsageException("virtio-blk: " + image + ": no such file");
        if (Files.isDirectory(image)) throw new UsageException("virtio-blk: " + image
                + " is a directory, not a disk image");
        props.put("path", image.toAbsolutePath().toString());
        if (o.bool("ro") == Boolean.TRUE) props.put("ro", "true");
        String sectors = o.get("sectorsize");
        if (sectors != null) {
            String[] p = sectors.split("/", -1);
            int logical = 0, physical = 0;
            try {
                logical = Integer.parseInt(p[0]);
                physical = p.length == 2 ? Integer.parseInt(p[1]) : logical;
            } catch (NumberFormatException e) {
                logical = -1;
            }
            if (p.length > 2 || !blockSize(logical) || !blockSize(physical) || physical < logical)
                throw new UsageException("virtio-blk: sectorsize=" + sectors
                        + " is not logical[/physical], powers of two in 512..65536");
            props.put("sectorsize", sectors);
        }
        String ser = o.get("ser");
        if (ser != null) {
            if (ser.chars().anyMatch(c -> c < 0x20 || c > 0x7e) || ser.getBytes(StandardCharsets.US_ASCII).length > 20)
                throw new UsageException("virtio-blk: ser=" + ser
                        + ": a serial number is at most 20 printable ASCII characters");
            props.put("serial", ser);
        }
        if (o.bool("nocache") == Boolean.TRUE) o.warn("nocache: the image is read through the host's page cache "
                + "here; ignored");
        Boolean sync = o.bool("sync"), direct = o.bool("direct");
        // Synchronous writes: a writethrough cache, where every write is stable before it completes.
        if (sync == Boolean.TRUE || direct == Boolean.TRUE) props.put("wce", "false");
        if (o.bool("nodelete") == Boolean.TRUE) props.put("discard", "false");
        o.integer("queues", 1, 64, props);
        o.integer("queue-size", 2, 32768, props);
        o.integer("depth", 1, 32768, props);
        Boolean discard = o.bool("discard"), wce = o.bool("wce");
        if (discard != null) props.putIfAbsent("discard", discard.toString());
        if (wce != null) props.putIfAbsent("wce", wce.toString());
    }

    private static boolean blockSize(int n) {
        return n >= 512 && n <= 65536 && Integer.bitCount(n) == 1;
    }

    /** bhyve's network variables (backend, type, mac, mtu), our dgram/peer back end, queues and offload. */
    private static void net(String name, Options o, Map<String, Object> props) throws UsageException {
        String backend = o.get("backend"), tap = o.get("tap"), dgram = o.get("dgram");
        if (backend == null) backend = tap;
        String type = o.get("type");
        if (type != null && !type.equals("tap")) throw new UsageException(name + ": type=" + type
                + ": only TAP back ends here");
        if (backend == null && dgram == null)
            throw new UsageException(name + " needs a TAP device: " + name + ",tap0[,mac=...]");
        if (backend != null) {
            if (backend.startsWith("netgraph") || backend.startsWith("netmap:") || backend.startsWith("vale"))
                throw new UsageException(name + ": backend " + backend
                        + ": only TAP back ends here (netgraph and netmap are FreeBSD's)");
            if (!backend.matches("[A-Za-z0-9_.-]{1,15}"))
                throw new UsageException(name + ": " + backend
                        + " is not an interface name (1..15 of A-Z a-z 0-9 _ . -)");
            if (!Files.exists(Arguments.sysClassNet.resolve(backend)))
                throw new UsageException(name + ": " + backend
                        + ": no such network interface (create it first: ip tuntap add "
                        + backend + " mode tap)");
            props.put("tap", backend);
        } else {
            props.put("dgram", dgram);
            String peer = o.get("peer");
            if (peer == null) throw new UsageException(name + ": dgram needs peer=PEER_SOCKET_PATH");
            props.put("peer", peer);
        }
        if (name.equals("virtio-net-viona")) props.put("implementation", "viona");
        String mac = o.get("mac");
        if (mac != null) {
            if (!MAC.matcher(mac).matches())
                throw new UsageException(name + ": mac=" + mac
                        + " is not a MAC address (six hex octets, 52:54:00:12:34:56)");
            int first = Integer.parseInt(mac.substring(0, 2), 16);
            if ((first & 1) != 0 || mac.replace(":", "").matches("0+"))
                throw new UsageException(name + ": mac=" + mac
                        + " is a multicast or zero address; a card needs a unicast one");
            props.put("mac", mac);
        }
        o.integer("mtu", 68, 65535, props);
        o.integer("queues", 1, 16, props);
        Boolean offload = o.bool("offload");
        // One feature set for both implementations, so the instance can be swapped between them.
        props.put("offload", offload == null ? "true" : offload.toString());
    }

    /**
     * {@code virtio-vsock,cid=N,path=SOCKET}: both required, a CID a guest may have and a socket path that can be
     * made; the provider's limits pass through checked.
     */
    private static void vsock(Options o, Map<String, Object> props) throws UsageException {
        String cid = o.get("cid");
        if (cid == null) throw new UsageException("virtio-vsock needs the guest's CID: virtio-vsock,cid=3,path=/run/vm.vsock");
        long n;
        try {
            n = Long.parseLong(cid.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("virtio-vsock: cid=" + cid + " is not a number");
        }
        if (n < 3 || n > 0xffff_fffeL)
            throw new UsageException("virtio-vsock: cid=" + cid + " must be 3..4294967294 (0-2 are reserved)");
        props.put("cid", Long.toString(n));
        String p = o.get("path");
        if (p == null) throw new UsageException("virtio-vsock needs the host socket: virtio-vsock,cid=" + cid
                + ",path=/run/vm.vsock");
        Path path;
        try {
            path = Path.of(p).toAbsolutePath();
        } catch (java.nio.file.InvalidPathException e) {
            throw new UsageException("virtio-vsock: path=" + p + " is not a path: " + e.getReason());
        }
        if (Files.isDirectory(path)) throw new UsageException("virtio-vsock: path=" + p + " is a directory, not a socket path");
        if (path.getParent() == null || !Files.isDirectory(path.getParent()))
            throw new UsageException("virtio-vsock: path=" + p + ": the directory " + path.getParent() + " does not exist");
        props.put("path", path.toString());
        o.integer("max-connections", 1, 65536, props);
        o.integer("buf-alloc", 4096, 16777216, props);
        Boolean eventIdx = o.bool("event-idx");
        if (eventIdx != null) props.put("event-idx", eventIdx.toString());
    }

    /** Reads a device node's variables, naming the emulation in messages. */
    private record Options(ConfigTree t, String node, String name) {
        String get(String var) throws UsageException {
            return t.get(node + "." + var);
        }

        Boolean bool(String var) throws UsageException {
            String v = get(var);
            if (v == null) return null;
            Boolean b = ConfigTree.parseBool(v);
            if (b == null) throw new UsageException(name + ": " + var + "=" + v
                    + " is not a boolean (true/false, yes/no, on/off, 1/0)");
            return b;
        }

        void integer(String var, long min, long max, Map<String, Object> props) throws UsageException {
            String v = get(var);
            if (v == null) return;
            long n;
            try {
                n = Long.decode(v.trim());
            } catch (NumberFormatException e) {
                throw new UsageException(name + ": " + var + "=" + v + " is not a number");
            }
            if (n < min || n > max) throw new UsageException(name + ": " + var + "=" + v + " must be " + min + ".."
                    + max);
            props.put(var, v.trim());
        }

        void warn(String message) {
            t.warnings().add("warning: " + name + ": " + message);
        }
    }
}
