package vmm.launcher.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
    public record Plan(String command, List<Config> configs) {}

    /** A mistake on the command line; the message is the one line the user sees. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        public UsageException(String message) {
            super(message);
        }
    }

    public static final String USAGE = """
            usage: vmm run [-c VCPUS] [-m SIZE] [-s SLOT[:FUNC],EMULATION[,conf]]... [-l com1|com2,BACKEND]
                           (-l bootrom,FILE | --kernel FILE [--initrd FILE] [--cmdline TEXT]) [VMNAME]
                   run a PC virtual machine, bhyve's way; with no options, the built-in default VM
                   (SeaBIOS booting a demo disk the launcher generates, its console in this terminal);
                   --kernel boots Linux without firmware: an ELF vmlinux with a PVH entry, or a bzImage
                   vmm vhost-user --socket PATH EMULATION[,conf]
                   serve one device over vhost-user to another VMM (QEMU, user-mode Linux)
                   vmm vfio-user --socket PATH EMULATION[,conf]
                   serve one device as a PCI function over vfio-user to another VMM (passthrough)
            emulations:
                   hostbridge (slot 0), lpc (the ISA bridge carrying COM1/COM2)
                   virtio-blk,PATH[,ro][,sectorsize=N[/M]][,ser=SERIAL]
                   virtio-rng
                   virtio-net,TAP[,mac=xx:xx:xx:xx:xx:xx]   virtio-net-viona,TAP[,mac=...] (accelerated, offloads)
                   passthru,BUS/SLOT/FUNC | passthru,DDDD:BB:DD.F (a host device bound to vfio-pci)
                   passthru,vfio-user=SOCKET (a device another process serves over vfio-user)
            backends:  stdio | tcp=HOST:PORT | unix=PATH | log=FILE | none""";

    /** The default boot ROM: Debian's SeaBIOS. */
    public static final Path DEFAULT_BOOTROM = Path.of("/usr/share/seabios/bios-256k.bin");
    /** PCI slots the chipset occupies: the host bridge, and the PIIX ISA bridge with its PM function. */
    static final int HOST_BRIDGE_SLOT = 0, CHIPSET_SLOT = 1;

    /** The emulations the launcher knows, as bhyve names them, and the device type each one is. */
    static final Map<String, String> EMULATIONS = Map.of("virtio-blk", "virtio-blk", "virtio-rng", "virtio-rng",
            "virtio-net", "virtio-net", "virtio-net-viona", "virtio-net");
    /** Where Linux lists network interfaces; a TAP named on the command line must be there. */
    static Path sysClassNet = Path.of("/sys/class/net");

    private Arguments() {}

    /**
     * Parses {@code args}.
     *
     * @throws UsageException naming the first thing that is wrong
     */
    public static Plan parse(List<String> args) throws UsageException {
        if (args.isEmpty() || List.of("help", "-h", "--help").contains(args.getFirst())) return new Plan("help", List.of());
        String command = args.getFirst();
        return switch (command) {
            case "vhost-user" -> vhostUser(args.subList(1, args.size()));
            case "vfio-user" -> socketServer("vfio-user", "vmm.vfio-user", args.subList(1, args.size()));
            case "run" -> run(args.subList(1, args.size()));
            default -> throw new UsageException("unknown command '" + command + "' (try: vmm help)");
        };
    }

    private static Plan vhostUser(List<String> args) throws UsageException {
        return socketServer("vhost-user", "vmm.vhost-user", args);
    }

    /** {@code vhost-user} and {@code vfio-user}: one device served on a socket, as factory configuration {@code pid}. */
    private static Plan socketServer(String command, String pid, List<String> args) throws UsageException {
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
        Map<String, Object> props = emulation(device);
        props.put("socket", Path.of(socket).toAbsolutePath().toString());
        return new Plan(command, List.of(new Config(pid, "cli", props)));
    }

    private static Plan run(List<String> args) throws UsageException {
        if (args.isEmpty()) return defaultVm();
        String memory = "256M", name = "vm", bootrom = null, kernel = null, initrd = null, cmdline = null;
        int vcpus = 1;
        List<Config> configs = new ArrayList<>();
        java.util.Set<Integer> slots = new java.util.HashSet<>();
        boolean com1 = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "-c" -> {
                    String v = next(args, ++i, "-c needs a vCPU count");
                    try {
                        vcpus = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new UsageException("-c " + v + ": not a number of vCPUs");
                    }
                    if (vcpus < 1 || vcpus > 255) throw new UsageException("-c " + v + ": must be 1..255");
                }
                case "-m" -> {
                    memory = next(args, ++i, "-m needs a size, e.g. -m 512M");
                    try {
                        vmm.core.machine.MemorySize.parse(memory);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("-m " + memory + ": " + e.getMessage());
                    }
                }
                case "-s" -> {
                    Config c = slot(next(args, ++i, "-s needs SLOT,EMULATION"), slots);
                    if (c != null) configs.add(c);
                }
                case "-l" -> {
                    String v = next(args, ++i, "-l needs com1,BACKEND or bootrom,FILE");
                    int comma = v.indexOf(',');
                    String what = comma < 0 ? v : v.substring(0, comma), rest = comma < 0 ? "" : v.substring(comma + 1);
                    switch (what) {
                        case "bootrom" -> bootrom = bootrom(rest);
                        case "com1", "com2" -> {
                            if (!rest.matches("stdio|none|tcp=.+:\\d+|unix=.+|log=.+"))
                                throw new UsageException("-l " + what + "," + rest + ": the backend must be stdio, tcp=HOST:PORT, unix=PATH, log=FILE or none");
                            Map<String, Object> p = new LinkedHashMap<>();
                            p.put("port", what);
                            p.put("backend", rest);
                            configs.add(new Config("device.uart", what, p));
                            com1 |= what.equals("com1");
                        }
                        default -> throw new UsageException("-l " + what + ": unknown (com1, com2 or bootrom)");
                    }
                }
                case "--kernel" -> kernel = next(args, ++i, "--kernel needs a file: an ELF vmlinux with a PVH entry, or a bzImage");
                case "--initrd" -> initrd = next(args, ++i, "--initrd needs a file");
                case "--cmdline" -> cmdline = next(args, ++i, "--cmdline needs the kernel command line, e.g. --cmdline 'console=ttyS0'");
                default -> {
                    if (a.startsWith("--kernel=")) { kernel = a.substring(9); continue; }
                    if (a.startsWith("--initrd=")) { initrd = a.substring(9); continue; }
                    if (a.startsWith("--cmdline=")) { cmdline = a.substring(10); continue; }
                    if (a.startsWith("-")) throw new UsageException("run: unknown option " + a);
                    if (i != args.size() - 1) throw new UsageException("run: the VM name (" + a + ") comes last");
                    name = a;
                }
            }
        }
        if (kernel == null && (initrd != null || cmdline != null))
            throw new UsageException("run: " + (initrd != null ? "--initrd" : "--cmdline") + " goes with --kernel FILE");
        if (kernel != null && bootrom != null)
            throw new UsageException("run: give either -l bootrom,FILE (firmware) or --kernel FILE (Linux without firmware), not both");
        if (bootrom == null && kernel == null)
            throw new UsageException("run: no boot path: give -l bootrom,FILE (e.g. " + DEFAULT_BOOTROM + ") or --kernel FILE");
        Map<String, Object> vm = new LinkedHashMap<>();
        vm.put("memory.size", memory);
        vm.put("vcpus", vcpus);
        if (bootrom != null) {
            vm.put("bootrom", bootrom);
        } else {
            vm.put("kernel", kernel(kernel, initrd, cmdline == null ? "" : cmdline, memory));
            if (initrd != null) vm.put("initrd", Path.of(initrd).toAbsolutePath().toString());
            vm.put("cmdline", cmdline == null ? "" : cmdline);
        }
        vm.put("name", name);
        if (com1) vm.put("serial.console", 0x3f8);
        configs.addFirst(new Config("vmm.vm", null, vm));
        return new Plan("run", configs);
    }

    /**
     * The built-in default VM: SeaBIOS from Debian's package booting the
     * demo disk the launcher writes ({@code demo-disk} names it; the caller
     * generates it), 64 MiB, COM1 on this terminal.
     */
    private static Plan defaultVm() throws UsageException {
        String bootrom = bootrom(DEFAULT_BOOTROM.toString());
        Map<String, Object> vm = new LinkedHashMap<>(Map.of("memory.size", "64M", "vcpus", 1, "bootrom", bootrom,
                "name", "default", "serial.console", 0x3f8));
        Map<String, Object> disk = new LinkedHashMap<>(Map.of("type", "virtio-blk", "address", "0:4.0", "path", DEMO_DISK));
        Map<String, Object> com1 = new LinkedHashMap<>(Map.of("port", "com1", "backend", "stdio"));
        return new Plan("run", List.of(new Config("vmm.vm", null, vm), new Config("vmm.device", "disk", disk),
                new Config("device.uart", "com1", com1)));
    }

    /** Placeholder path in the default VM's disk configuration; the launcher writes the demo disk and substitutes it. */
    public static final String DEMO_DISK = "@demo-disk";

    private static String bootrom(String path) throws UsageException {
        if (path.isEmpty()) throw new UsageException("-l bootrom needs a file: -l bootrom,FILE");
        Path p = Path.of(path);
        if (!Files.exists(p))
            throw new UsageException("boot ROM " + p + ": no such file" + (p.equals(DEFAULT_BOOTROM) ? " (apt-get install seabios)" : ""));
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
    private static String kernel(String kernel, String initrd, String cmdline, String memory) throws UsageException {
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

    private static Config slot(String spec, java.util.Set<Integer> used) throws UsageException {
        int comma = spec.indexOf(',');
        if (comma < 0) throw new UsageException("-s " + spec + ": expected SLOT[:FUNC],EMULATION[,conf]");
        String where = spec.substring(0, comma), what = spec.substring(comma + 1);
        String[] parts = where.split(":");
        int bus = 0, slot, func = 0;
        try {
            if (parts.length == 1) slot = Integer.parseInt(parts[0]);
            else if (parts.length == 2) { slot = Integer.parseInt(parts[0]); func = Integer.parseInt(parts[1]); }
            else if (parts.length == 3) { bus = Integer.parseInt(parts[0]); slot = Integer.parseInt(parts[1]); func = Integer.parseInt(parts[2]); }
            else throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new UsageException("-s " + spec + ": slot '" + where + "' is not SLOT, SLOT:FUNC or BUS:SLOT:FUNC");
        }
        if (bus != 0 || slot < 0 || slot > 31 || func < 0 || func > 7)
            throw new UsageException("-s " + spec + ": slot " + where + " is outside bus 0, slots 0..31, functions 0..7");
        String emulation = what.contains(",") ? what.substring(0, what.indexOf(',')) : what;
        if (emulation.equals("hostbridge")) {
            if (slot != HOST_BRIDGE_SLOT) throw new UsageException("-s " + spec + ": the host bridge is at slot 0 on this machine");
            return null;
        }
        if (emulation.equals("lpc")) return null; // the PIIX ISA bridge at 00:01.0 carries COM1/COM2 always
        if (slot == HOST_BRIDGE_SLOT || slot == CHIPSET_SLOT)
            throw new UsageException("-s " + spec + ": slot " + slot + " is the chipset's (" + (slot == 0 ? "host bridge" : "PIIX ISA bridge and power management") + ")");
        if (!used.add(slot << 3 | func)) throw new UsageException("-s " + spec + ": slot " + where + " is used twice");
        if (emulation.equals("passthru")) return passthru(spec, what, slot, func);
        Map<String, Object> props = emulation(what);
        props.put("address", "0:" + slot + "." + func);
        return new Config("vmm.device", "s" + slot + "_" + func, props);
    }

    /** Host devices as bhyve ({@code BUS/SLOT/FUNC}, decimal) and lspci -D ({@code DDDD:BB:DD.F}) write them. */
    private static final java.util.regex.Pattern HOST_PCI = java.util.regex.Pattern.compile(
            "\\d{1,3}/\\d{1,2}/\\d|(?i)([0-9a-f]{4}:)?[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]");

    /** {@code -s SLOT,passthru,HOST}: a {@code device.pci-passthru} configuration; the device itself is checked when it is opened. */
    private static Config passthru(String spec, String what, int slot, int func) throws UsageException {
        String[] parts = what.split(",", -1);
        if (parts.length != 2 || parts[1].isBlank())
            throw new UsageException("-s " + spec + ": passthru needs the host device: passthru,BUS/SLOT/FUNC, passthru,DDDD:BB:DD.F or passthru,vfio-user=SOCKET");
        String host = parts[1].trim();
        if (host.startsWith("vfio-user=")) {
            Path socket = Path.of(host.substring("vfio-user=".length()));
            if (!Files.exists(socket))
                throw new UsageException("-s " + spec + ": " + socket + ": no vfio-user socket there (start the server first: vmm vfio-user --socket " + socket + " EMULATION)");
            host = "vfio-user=" + socket.toAbsolutePath();
        } else if (!HOST_PCI.matcher(host).matches()) {
            throw new UsageException("-s " + spec + ": host device '" + host + "' is not BUS/SLOT/FUNC or DDDD:BB:DD.F (lspci -D lists them)");
        }
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("address", "0:" + slot + "." + func);
        props.put("host", host);
        return new Config("device.pci-passthru", "s" + slot + "_" + func, props);
    }

    private static String next(List<String> args, int i, String missing) throws UsageException {
        if (i >= args.size()) throw new UsageException(missing);
        return args.get(i);
    }

    /** A bhyve-style device string, {@code emulation[,conf]}, as device configuration properties. */
    static Map<String, Object> emulation(String spec) throws UsageException {
        List<String> parts = List.of(spec.split(",", -1));
        String name = parts.getFirst();
        String type = EMULATIONS.get(name);
        if (type == null) throw new UsageException("unknown emulation '" + name + "' (known: " + String.join(", ", EMULATIONS.keySet().stream().sorted().toList()) + ")");
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("type", type);
        List<String> options = new ArrayList<>(parts.subList(1, parts.size()));
        switch (name) {
            case "virtio-blk" -> {
                if (options.isEmpty() || options.getFirst().isBlank() || options.getFirst().contains("="))
                    throw new UsageException("virtio-blk needs a disk image: virtio-blk,PATH[,ro]");
                Path image = Path.of(options.removeFirst());
                if (!Files.exists(image)) throw new UsageException("virtio-blk: " + image + ": no such file");
                if (Files.isDirectory(image)) throw new UsageException("virtio-blk: " + image + " is a directory, not a disk image");
                props.put("path", image.toAbsolutePath().toString());
                for (String o : options) {
                    if (o.equals("ro")) props.put("ro", "true");
                    else if (o.startsWith("sectorsize=")) props.put("sectorsize", value(o));
                    else if (o.startsWith("ser=")) props.put("serial", value(o));
                    else if (o.contains("=")) props.put(o.substring(0, o.indexOf('=')), value(o));
                    else throw new UsageException("virtio-blk: unknown option '" + o + "'");
                }
            }
            case "virtio-net", "virtio-net-viona" -> {
                if (options.isEmpty() || options.getFirst().isBlank() || options.getFirst().contains("="))
                    throw new UsageException(name + " needs a TAP device: " + name + ",tap0[,mac=...]");
                String tap = options.removeFirst();
                if (!Files.exists(sysClassNet.resolve(tap)))
                    throw new UsageException(name + ": " + tap + ": no such network interface (create it first: ip tuntap add " + tap + " mode tap)");
                props.put("tap", tap);
                if (name.equals("virtio-net-viona")) props.put("implementation", "viona");
                // One feature set for both implementations, so the instance can be swapped between them.
                props.put("offload", "true");
                for (String o : options) {
                    if (!o.contains("=") || o.startsWith("=")) throw new UsageException(name + ": option '" + o + "' is not key=value");
                    props.put(o.substring(0, o.indexOf('=')), value(o));
                }
            }
            default -> {
                for (String o : options) {
                    if (!o.contains("=") || o.startsWith("=")) throw new UsageException(name + ": option '" + o + "' is not key=value");
                    props.put(o.substring(0, o.indexOf('=')), value(o));
                }
            }
        }
        return props;
    }

    private static String value(String option) throws UsageException {
        String v = option.substring(option.indexOf('=') + 1);
        if (v.isEmpty()) throw new UsageException("option '" + option + "' has no value");
        return v;
    }
}
