package vmm.launcher.internal;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import vmm.core.boot.LinuxBoot;
import vmm.core.machine.MemorySize;
import vmm.core.platform.PcPlatform;

/**
 * The command line, parsed into the configurations it stands for: the
 * command line is one way to write Configuration Admin configuration, not a
 * second configuration system. Pure: no framework, no I/O beyond checking
 * that files named on the line exist, so every mistake is found before
 * anything starts.
 */
public final class Arguments {
    /**
     * A configuration to create: a factory PID and a name for it, or (with a
     * null name) a singleton PID; and its properties.
     */
    public record Config(String factoryPid, String name, Map<String, Object> properties) {
        public boolean isFactory() {
            return name != null;
        }
    }

    /** What to do: the command, and the configurations it needs. */
    /**
     * What to do: the command, the configurations it needs, warnings to print first (one line each), and for
     * {@code config.dump} the text to print instead of running.
     */
    public record Plan(String command, List<Config> configs, List<String> warnings, String output) {
        public Plan(String command, List<Config> configs) {
            this(command, configs, List.of(), "");
        }
    }

    /** A mistake on the command line; the message is the one line the user sees. */
    public static class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        public UsageException(String message) {
            super(message);
        }
    }

    /** The boot ROM a Debian package provides is missing: the launcher may install the package, or says to. */
    public static final class MissingFirmware extends UsageException {
        private static final long serialVersionUID = 1L;
        public final transient Path rom;
        public final String debianPackage;

        public MissingFirmware(Path rom, String debianPackage) {
            super("boot ROM " + rom + ": no such file (install it as root: apt-get install " + debianPackage + ")");
            this.rom = rom;
            this.debianPackage = debianPackage;
        }
    }

    public static final String USAGE = """
            usage: vmm run [-c VCPUS] [-m SIZE] [-s SLOT[:FUNC],EMULATION[,conf]]... [-l com1|com2,BACKEND]
                           (-l bootrom,FILE | --kernel FILE [--initrd FILE] [--cmdline TEXT]) [--no-reboot]
                           [--accel auto|kvm|emu] [--deterministic] [VMNAME]
                   run a PC virtual machine, bhyve's way; with no options, the built-in default VM
                   (SeaBIOS booting a demo disk the launcher generates, its console in this terminal);
                   --kernel boots Linux without firmware: an ELF vmlinux with a PVH entry, or a bzImage
                   --no-reboot: a guest reset ends the VM (exit code 3) instead of restarting it
                   --accel: the CPU back end: kvm (/dev/kvm), emu (the x86 CPU in Java), or auto
                   (the default: KVM where it works, else the software CPU)
                   --deterministic: a reproducible run on the software CPU (QEMU's -icount): time follows
                   the instruction count, vCPUs take turns, disk requests complete in order
                   vmm run -r FILE [-l com1|com2,BACKEND]... [-s SLOT,EMULATION[,conf]]... [VMNAME]
                   restore a VM from a snapshot (vm:snapshot in its shell): the machine's configuration comes from
                   the file, its state is put back before any vCPU runs (the software CPU, accel=emu, only);
                   -l and -s give a device of the snapshot another back end (a log, a disk's path, a TAP)
                   vmm run -k FILE [flags...] [-o VAR=VALUE]... [VMNAME]
                   the same from a bhyve_config(5) file (var=value lines, # comments, %(var) expansion; or JSON);
                   -o sets one variable (memory.size, cpus, lpc.com1.path, pci.0.4.0.path, accel, kernel, ...);
                   the flags are shorthands for the variables; -o config.dump=1 prints them and exits;
                   bhyve's -A -H -P -S -U are accepted (see README)
                   --bundle JAR|DIR (repeatable, with run, vhost-user, vfio-user and help): install and start
                   these OSGi bundles (a directory: every *.jar in it) first; the device types their
                   providers offer are emulations: -s SLOT,TYPE[,key=value]... passes the options to them
                   vmm vhost-user --socket PATH EMULATION[,conf]
                   serve one device over vhost-user to another VMM (QEMU, user-mode Linux)
                   vmm vfio-user --socket PATH EMULATION[,conf]
                   serve one device as a PCI function over vfio-user to another VMM (passthrough)
            emulations:
                   hostbridge (slot 0), lpc (the ISA bridge carrying COM1/COM2)
                   virtio-blk,[path=]PATH[,ro][,sectorsize=N[/M]][,ser=SERIAL][,nodelete][,sync]
                   virtio-rng (bhyve: virtio-rnd)
                   virtio-net,[backend=]TAP[,mac=xx:xx:xx:xx:xx:xx][,mtu=N]
                   virtio-net-viona,TAP[,mac=...] (accelerated, offloads)
                   virtio-vsock,cid=N,path=SOCKET (guest CID N >= 3; host processes connect to SOCKET and
                   write CONNECT PORT; a guest connecting to CID 2 port P reaches SOCKET_P)
                   passthru,BUS/SLOT/FUNC | passthru,DDDD:BB:DD.F (a host device bound to vfio-pci)
                   passthru,vfio-user=SOCKET (a device another process serves over vfio-user)
            backends:  stdio | tcp=HOST:PORT | unix=PATH | log=FILE | none""";

    /** The command line less its {@code --bundle} options, and the paths they name, in their order. */
    public record WithBundles(List<Path> bundles, List<String> rest) {}

    /** The options of {@code run}, {@code vhost-user} and {@code vfio-user} that take the next argument. */
    private static final Set<String> TAKES_VALUE = Set.of("-r", "-k", "-c", "-m", "-s", "-l", "-o", "-U", "-p",
            "-G", "-K",
            "--kernel", "--initrd", "--cmdline", "--accel", "--socket");

    /**
     * Takes {@code --bundle PATH} and {@code --bundle=PATH} (repeatable) out of the line of {@code run},
     * {@code vhost-user}, {@code vfio-user} and {@code help}; other commands' lines are left as they are.
     *
     * @throws UsageException for a {@code --bundle} without a path
     */
    public static WithBundles bundles(List<String> args) throws UsageException {
        if (args.isEmpty() || !List.of("run", "vhost-user", "vfio-user", "help").contains(args.getFirst()))
            return new WithBundles(List.of(), args);
        List<Path> bundles = new ArrayList<>();
        List<String> rest = new ArrayList<>(List.of(args.getFirst()));
        for (int i = 1; i < args.size(); i++) {
            String a = args.get(i);
            String path = null;
            if (a.equals("--bundle")) {
                path = next(args, ++i, "--bundle needs a bundle JAR or a directory of them");
            } else if (a.startsWith("--bundle=")) {
                path = a.substring("--bundle=".length());
            } else {
                rest.add(a);
                if (TAKES_VALUE.contains(a) && i + 1 < args.size()) rest.add(args.get(++i));
                continue;
            }
            if (path.isBlank()) throw new UsageException("--bundle needs a bundle JAR or a directory of them");
            try {
                bundles.add(Path.of(path));
            } catch (InvalidPathException e) {
                throw new UsageException("--bundle " + path.replace("\0", "\\0") + ": not a file name: "
                        + e.getReason());
            }
        }
        return new WithBundles(bundles, rest.size() == 1 && rest.getFirst().equals("help") ? List.of("help") : rest);
    }

    /** The default boot ROM: Debian's SeaBIOS. */
    public static final Path DEFAULT_BOOTROM = Path.of("/usr/share/seabios/bios-256k.bin");
    /** PCI slots the chipset occupies: the host bridge, and the PIIX ISA bridge with its PM function. */
    static final int HOST_BRIDGE_SLOT = 0, CHIPSET_SLOT = 1;

    /**
     * The emulations the launcher knows, as bhyve names them, and the device type each one is ({@code virtio-rnd}
     * is bhyve's name, {@code virtio-rng} QEMU's and ours).
     */
    static final Map<String, String> EMULATIONS = Map.of("virtio-blk", "virtio-blk", "virtio-rng", "virtio-rng",
            "virtio-rnd", "virtio-rng", "virtio-net", "virtio-net", "virtio-net-viona", "virtio-net",
            "virtio-vsock", "virtio-vsock");
    /** The option an emulation's legacy {@code -s} string takes first, without a key (bhyve's legacy parsers). */
    static final Map<String, String> POSITIONAL = Map.of("virtio-blk", "path", "virtio-net", "backend",
            "virtio-net-viona", "backend", "passthru", "host");
    /** Where Linux lists network interfaces; a TAP named on the command line must be there. */
    static Path sysClassNet = Path.of("/sys/class/net");

    private Arguments() {}

    /**
     * Parses {@code args}.
     *
     * @throws UsageException naming the first thing that is wrong
     */
    public static Plan parse(List<String> args) throws UsageException {
        return parse(args, Set.of());
    }

    /**
     * Parses {@code args}, where {@code providerTypes} are the device types the installed {@code DeviceProvider}
     * services offer: an emulation name no built-in table knows is such a type, its options the instance's
     * properties.
     *
     * @throws UsageException naming the first thing that is wrong
     */
    public static Plan parse(List<String> args, Set<String> providerTypes) throws UsageException {
        if (args.isEmpty() || List.of("help", "-h", "--help").contains(args.getFirst())) return new Plan("help", List.of());
        String command = args.getFirst();
        try {
            return switch (command) {
                case "vhost-user" -> socketServer("vhost-user", "vmm.vhost-user", args.subList(1, args.size()),
                        providerTypes);
                case "vfio-user" -> socketServer("vfio-user", "vmm.vfio-user", args.subList(1, args.size()),
                        providerTypes);
                case "run" -> run(args.subList(1, args.size()), providerTypes);
                default -> throw new UsageException("unknown command '" + command + "' (try: vmm help)");
            };
        } catch (InvalidPathException e) {
            // Every file name (-k, --kernel, a disk, a socket, ...) becomes a Path somewhere; one the
            // file system cannot name (a NUL in it) is a usage error like any other.
            String name = e.getInput().replace("\0", "\\0");
            throw new UsageException("'" + name + "' is not a usable file name: " + e.getReason());
        }
    }

    /** {@code vhost-user} and {@code vfio-user}: one device served on a socket, as factory configuration {@code pid}. */
    private static Plan socketServer(String command, String pid, List<String> args,
            Set<String> providerTypes) throws UsageException {
        String socket = null, device = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--socket")) {
                if (i + 1 == args.size()) throw new UsageException("--socket needs a path");
                socket = args.get(++i);
            } else if (a.startsWith("--socket=")) {
                socket = a.substring("--socket=".length());
            } else if (a.startsWith("-")) {
                throw new UsageException(command + ": unknown option " + a);
            } else if (device != null) {
                throw new UsageException(command + ": one device per socket; '" + a + "' is a second one");
            } else {
                device = a;
            }
        }
        if (socket == null || socket.isBlank()) throw new UsageException(command + ": --socket PATH is required");
        if (device == null) throw new UsageException(command + ": which device? e.g. virtio-blk,disk.img");
        Path dir = Path.of(socket).toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) throw new UsageException(command + ": --socket " + socket + ": no directory " + dir);
        List<String> warnings = new ArrayList<>();
        Map<String, Object> props = emulation(device, warnings, providerTypes);
        props.put("socket", Path.of(socket).toAbsolutePath().toString());
        return new Plan(command, List.of(new Config(pid, "cli", props)), warnings, "");
    }

    /**
     * The aliases {@code -o vm.KEY} keeps from the launcher's first syntax: the properties of {@code vmm.vm}
     * (the attributes of the core's {@code PcMachineComponent.Config}; a test keeps the two in step) and the
     * bhyve_config(5) variable each one is now.
     */
    static final Map<String, String> VM_ALIASES = Map.ofEntries(Map.entry("memory.size", "memory.size"),
            Map.entry("vcpus", "cpus"), Map.entry("bootrom", "lpc.bootrom"), Map.entry("kernel", "kernel"),
            Map.entry("initrd", "initrd"), Map.entry("cmdline", "cmdline"), Map.entry("serial.console", "serial.console"),
            Map.entry("name", "name"), Map.entry("reboot", "reboot"), Map.entry("accel", "accel"),
            Map.entry("deterministic", "deterministic"));
    static final java.util.Set<String> VM_KEYS = new java.util.TreeSet<>(VM_ALIASES.keySet());

    /** The PID of the one configuration of a {@code restore} plan: {@code file} and, if given, {@code name}. */
    public static final String RESTORE = "vmm.restore";

    /** The property of a restore plan holding the devices {@code -l} and {@code -s} give new back ends. */
    public static final String REPLACE = "replace";

    /**
     * {@code run -r FILE [-l comN,BACKEND]... [-s SLOT[:FUNC],EMULATION[,conf]]... [VMNAME]}: bhyve's restore.
     * The machine's configuration comes from the file; {@code -l} and {@code -s} may give a device there another
     * back end (a COM port's, a disk's path, a TAP), checked as in a run. Nothing else goes with it.
     */
    private static Plan restore(List<String> args, Set<String> providerTypes) throws UsageException {
        String file = null, name = null;
        List<Config> replace = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("-r") || a.startsWith("-r=")) {
                if (file != null) throw new UsageException("-r: one snapshot file, not two");
                file = a.equals("-r") ? next(args, ++i, "-r needs a snapshot file (from vm:snapshot)") : a.substring(3);
                if (file.isBlank()) throw new UsageException("-r needs a snapshot file (from vm:snapshot)");
            } else if (a.equals("-l")) {
                String v = next(args, ++i, "-l needs com1|com2,BACKEND");
                int comma = v.indexOf(',');
                String port = comma < 0 ? v : v.substring(0, comma), backend = comma < 0 ? "" : v.substring(comma + 1);
                if (!port.equals("com1") && !port.equals("com2"))
                    throw new UsageException("-l " + v + ": a restore replaces the back end of com1 or com2 only");
                if (!backend.matches("stdio|none|tcp=.+:\\d+|unix=.+|log=.+"))
                    throw new UsageException("-l " + v + ": the backend must be stdio, tcp=HOST:PORT, unix=PATH,"
                            + " log=FILE or none");
                Map<String, Object> p = new LinkedHashMap<>();
                p.put("type", "uart");
                p.put("port", port);
                p.put("backend", backend);
                replace.add(new Config("vmm.device", port, p));
            } else if (a.equals("-s")) {
                String v = next(args, ++i, "-s needs SLOT[:FUNC],EMULATION[,conf]");
                int comma = v.indexOf(',');
                String at = comma < 0 ? v : v.substring(0, comma);
                if (comma < 0 || !at.matches("\\d{1,2}(:\\d)?"))
                    throw new UsageException("-s " + v + ": expected SLOT[:FUNC],EMULATION[,conf]");
                String[] sf = at.split(":");
                Map<String, Object> p;
                try {
                    p = emulation(v.substring(comma + 1), new ArrayList<>(), providerTypes);
                } catch (UsageException e) {
                    throw new UsageException("-s " + v + ": " + e.getMessage());
                }
                p.put("address", "0:" + Integer.parseInt(sf[0]) + "." + (sf.length > 1 ? sf[1] : "0"));
                replace.add(new Config("vmm.device", null, p));
            } else if (a.startsWith("-")) {
                throw new UsageException("-r " + (file == null ? "FILE" : file) + ": " + a
                        + " cannot go with a restore:"
                        + " the machine's configuration comes from the snapshot (-l and -s may replace back ends)");
            } else if (name != null) {
                throw new UsageException("-r: one VM name, not '" + name + "' and '" + a + "'");
            } else {
                name = a;
            }
        }
        if (file == null) throw new UsageException("-r needs a snapshot file (from vm:snapshot)");
        Path path = Path.of(file).toAbsolutePath();
        if (!Files.isRegularFile(path)) throw new UsageException("-r " + file + ": no such file");
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("file", path.toString());
        if (name != null) props.put("name", name);
        props.put(REPLACE, List.copyOf(replace));
        return new Plan("restore", List.of(new Config(RESTORE, null, props)));
    }

    private static Plan run(List<String> args, Set<String> providerTypes) throws UsageException {
        if (args.isEmpty()) return defaultVm(null);
        if (args.contains("-r") || args.stream()
                .anyMatch(a -> a.startsWith("-r="))) return restore(args, providerTypes);
        // "--accel X" alone still means the built-in default VM, on that back end.
        String accelOnly = args.size() == 2 && args.getFirst().equals("--accel") ? args.get(1)
                : args.size() == 1 && args.getFirst().startsWith("--accel=") ? args.getFirst().substring(8) : null;
        if (accelOnly != null) {
            if (!Accel.NAMES.contains(accelOnly))
                throw new UsageException(String.join(" ", args) + ": the accelerator is auto, kvm or emu");
            return defaultVm(accelOnly);
        }
        ConfigTree tree = new ConfigTree();
        // The files first, whatever their place on the line: every flag next to -k overrides them.
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("-k")) ConfigFile.read(Path.of(next(args, ++i, "-k needs a configuration file")), tree);
            else if (a.startsWith("-k=")) ConfigFile.read(Path.of(a.substring(3)), tree);
        }
        boolean flagBootrom = false, flagKernel = false;
        Map<String, String> fileBoot = new LinkedHashMap<>(); // the files' boot path, by where each variable was set
        for (String v : List.of("lpc.bootrom", "kernel", "initrd", "cmdline")) if (tree.has(v)) fileBoot.put(v, tree.origin(v));
        java.util.Set<Integer> flagSlots = new java.util.HashSet<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "-k" -> i++;
                case "-c" -> Shorthands.cpus(tree, next(args, ++i, "-c needs a vCPU count"));
                case "-m" -> {
                    String v = next(args, ++i, "-m needs a size, e.g. -m 512M");
                    tree.set("memory.size", v, "-m " + v);
                }
                case "-s" -> Shorthands.slot(tree, next(args, ++i, "-s needs SLOT,EMULATION"), flagSlots);
                case "-l" -> {
                    String v = next(args, ++i, "-l needs com1,BACKEND or bootrom,FILE");
                    Shorthands.lpc(tree, v);
                    flagBootrom |= v.startsWith("bootrom");
                }
                case "-o" -> option(tree, next(args, ++i, "-o needs VAR=VALUE, e.g. -o memory.size=512M"), "-o ");
                case "-U" -> {
                    String v = next(args, ++i, "-U needs a UUID");
                    tree.set("uuid", v, "-U " + v);
                }
                case "-p" -> {
                    String v = next(args, ++i, "-p needs VCPU:HOSTCPU");
                    int colon = v.indexOf(':');
                    if (colon <= 0 || !v.substring(0, colon).matches("\\d{1,3}"))
                        throw new UsageException("-p " + v + ": expected VCPU:HOSTCPU");
                    tree.set("vcpu." + Integer.parseInt(v.substring(0, colon)) + ".cpuset", v.substring(colon + 1), "-p " + v);
                }
                case "-G" -> {
                    String v = next(args, ++i, "-G needs a port");
                    tree.set("gdb.port", v, "-G " + v);
                }
                case "-K" -> {
                    String v = next(args, ++i, "-K needs a keyboard layout");
                    tree.set("keyboard.layout", v, "-K " + v);
                }
                case "-f", "-n" -> throw new UsageException(a + ": " + switch (a) {
                    case "-f" -> "fw_cfg files from the command line are not supported here";
                    default -> "emulated NUMA domains are not supported here";
                });
                case "--kernel" -> {
                    flagKernel = true;
                    tree.set("kernel", next(args, ++i, "--kernel needs a file: an ELF vmlinux with a PVH entry, or a bzImage"), "");
                }
                case "--initrd" -> tree.set("initrd", next(args, ++i, "--initrd needs a file"), "");
                case "--cmdline" -> tree.set("cmdline", next(args, ++i,
                        "--cmdline needs the kernel command line, e.g. --cmdline 'console=ttyS0'"), "");
                case "--no-reboot" -> tree.set("reboot", "false", "--no-reboot"); // QEMU's -no-reboot; bhyve has none
                case "--deterministic" -> tree.set("deterministic", "true", "--deterministic"); // QEMU's -icount
                case "--accel" -> {
                    String v = next(args, ++i, "--accel needs auto, kvm or emu");
                    tree.set("accel", v, "--accel " + v);
                }
                default -> {
                    if (a.startsWith("-k=")) continue;
                    if (a.startsWith("--kernel=")) { flagKernel = true; tree.set("kernel", a.substring(9), ""); continue; }
                    if (a.startsWith("--initrd=")) { tree.set("initrd", a.substring(9), ""); continue; }
                    if (a.startsWith("--cmdline=")) { tree.set("cmdline", a.substring(10), ""); continue; }
                    if (a.startsWith("--accel=")) { tree.set("accel", a.substring(8), a); continue; }
                    if (Shorthands.isLetters(a)) { Shorthands.letters(tree, a); continue; }
                    if (a.startsWith("-")) throw new UsageException("run: unknown option " + a);
                    if (i != args.size() - 1) throw new UsageException("run: the VM name (" + a + ") comes last");
                    tree.set("name", a, "");
                }
            }
        }
        // A boot path given by a flag replaces the files' boot path, whichever kind it is.
        for (Map.Entry<String, String> v : fileBoot.entrySet()) {
            boolean replaced = v.getKey().equals("lpc.bootrom") ? flagKernel && !flagBootrom : flagBootrom && !flagKernel;
            if (replaced && v.getValue().equals(tree.origin(v.getKey()))) tree.remove(v.getKey());
        }
        if (tree.bool("config.dump", false)) return new Plan("dump", List.of(), List.of(), tree.dump());
        return VmPlan.plan(tree, providerTypes);
    }

    /**
     * One {@code VAR=VALUE} of {@code -o} (or of a JSON file's "options"): sets bhyve_config(5) variable VAR;
     * {@code vm.KEY} is the first syntax's name for a {@code vmm.vm} property, kept as an alias.
     */
    static void option(ConfigTree tree, String kv, String prefix) throws UsageException {
        int eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageException(prefix + kv + ": expected VAR=VALUE, e.g. -o memory.size=512M");
        option(tree, kv.substring(0, eq), kv.substring(eq + 1), prefix + kv);
    }

    static void option(ConfigTree tree, String key, String value, String where) throws UsageException {
        if (key.startsWith("vm.")) {
            String alias = VM_ALIASES.get(key.substring(3));
            if (alias == null)
                throw new UsageException(where + ": unknown key " + key + " (vmm.vm has: "
                        + String.join(", ", VM_KEYS.stream().map(x -> "vm." + x).toList()) + ")");
            key = alias;
        }
        tree.set(key, value, where);
    }

    /** {@code SLOT}, {@code SLOT:FUNC} or {@code BUS:SLOT:FUNC} as {@code slot << 3 | func}; {@code where} names it in errors. */
    static int slotKey(String where, String label) throws UsageException {
        String[] parts = where.split(":");
        int bus = 0, slot, func = 0;
        try {
            if (parts.length == 1) slot = Integer.parseInt(parts[0]);
            else if (parts.length == 2) { slot = Integer.parseInt(parts[0]); func = Integer.parseInt(parts[1]); }
            else if (parts.length == 3) { bus = Integer.parseInt(parts[0]); slot = Integer.parseInt(parts[1]); func = Integer.parseInt(parts[2]); }
            else throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new UsageException(label + ": slot '" + where + "' is not SLOT, SLOT:FUNC or BUS:SLOT:FUNC");
        }
        if (bus != 0 || slot < 0 || slot > 31 || func < 0 || func > 7)
            throw new UsageException(label + ": slot " + where + " is outside bus 0, slots 0..31, functions 0..7");
        return slot << 3 | func;
    }

    /**
     * The built-in default VM: SeaBIOS from Debian's package booting the
     * demo disk the launcher writes ({@code demo-disk} names it; the caller
     * generates it), 64 MiB, COM1 on this terminal; on the back end {@code accel} names, or the automatic
     * choice when null.
     */
    private static Plan defaultVm(String accel) throws UsageException {
        String bootrom = bootrom(DEFAULT_BOOTROM.toString());
        Map<String, Object> vm = new LinkedHashMap<>(Map.of("memory.size", "64M", "vcpus", 1, "bootrom", bootrom,
                "name", "default", "serial.console", 0x3f8));
        if (accel != null) vm.put("accel", accel);
        Map<String, Object> disk = new LinkedHashMap<>(Map.of("type", "virtio-blk", "address", "0:4.0", "path", DEMO_DISK));
        Map<String, Object> com1 = new LinkedHashMap<>(Map.of("type", "uart", "port", "com1", "backend", "stdio"));
        return new Plan("run", List.of(new Config("vmm.vm", null, vm), new Config("vmm.device", "disk", disk),
                new Config("vmm.device", "com1", com1)));
    }

    /** Placeholder path in the default VM's disk configuration; the launcher writes the demo disk and substitutes it. */
    public static final String DEMO_DISK = "@demo-disk";

    static String bootrom(String path) throws UsageException {
        if (path.isEmpty()) throw new UsageException("-l bootrom needs a file: -l bootrom,FILE");
        Path p = Path.of(path);
        if (!Files.exists(p) && p.equals(DEFAULT_BOOTROM)) throw new MissingFirmware(p, "seabios");
        if (!Files.exists(p)) throw new UsageException("boot ROM " + p + ": no such file");
        if (!Files.isReadable(p) || Files.isDirectory(p)) throw new UsageException("boot ROM " + p + ": not a readable file");
        try {
            long size = Files.size(p);
            if (size == 0 || size % 4096 != 0 || size > (16 << 20))
                throw new UsageException("boot ROM " + p + ": " + size + " bytes; a ROM image is whole 4 KiB pages, at most 16 MiB");
        } catch (java.io.IOException e) {
            throw new UsageException("boot ROM " + p + ": " + e.getMessage());
        }
        return p.toAbsolutePath().toString();
    }

    /** Checks the kernel, initrd and command line as the loader will (format, protocol, fit in RAM); the kernel's absolute path. */
    static String kernel(String kernel, String initrd, String cmdline, String memory) throws UsageException {
        if (kernel.isEmpty()) throw new UsageException("--kernel needs a file");
        if (initrd != null && initrd.isEmpty()) throw new UsageException("--initrd needs a file");
        try {
            LinuxBoot.check(Path.of(kernel), initrd == null ? null : Path.of(initrd), cmdline,
                    PcPlatform.kernelMemoryMap(MemorySize.parse(memory)));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--kernel: " + e.getMessage());
        }
        return Path.of(kernel).toAbsolutePath().toString();
    }

    static String next(List<String> args, int i, String missing) throws UsageException {
        if (i >= args.size()) throw new UsageException(missing);
        return args.get(i);
    }

    /** A bhyve-style device string, {@code emulation[,conf]}, as device configuration properties. */
    static Map<String, Object> emulation(String spec) throws UsageException {
        return emulation(spec, new ArrayList<>(), Set.of());
    }

    /** {@link #emulation(String)}, adding a line to {@code warnings} for options ignored or read by nothing. */
    public static Map<String, Object> emulation(String spec, List<String> warnings,
            Set<String> providerTypes) throws UsageException {
        int comma = spec.indexOf(',');
        String name = comma < 0 ? spec : spec.substring(0, comma);
        ConfigTree tree = new ConfigTree();
        Shorthands.legacy(tree, "dev", name, comma < 0 ? null : spec.substring(comma + 1), "");
        Map<String, Object> props = Emulations.properties(name, tree, "dev", providerTypes);
        warnings.addAll(tree.warnings());
        List<String> unread = tree.unread().stream().map(k -> k.substring(4)).toList();
        if (!unread.isEmpty()) warnings.add(VmPlan.unreadWarning(unread));
        return props;
    }
}
