package vmm.launcher.internal;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
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
                           (-l bootrom,FILE | --kernel FILE [--initrd FILE] [--cmdline TEXT]) [--no-reboot]
                           [--accel auto|kvm|emu] [VMNAME]
                   run a PC virtual machine, bhyve's way; with no options, the built-in default VM
                   (SeaBIOS booting a demo disk the launcher generates, its console in this terminal);
                   --kernel boots Linux without firmware: an ELF vmlinux with a PVH entry, or a bzImage
                   --no-reboot: a guest reset ends the VM (exit code 3) instead of restarting it
                   --accel: the CPU back end: kvm (/dev/kvm), emu (the x86 CPU in Java), or auto
                   (the default: KVM where it works, else the software CPU)
                   vmm run -k FILE.json [flags...] [-o KEY=VALUE]... [VMNAME]
                   the same from a JSON file (keys: name cpus memory devices serial bootrom kernel initrd
                   cmdline options); flags next to -k override the file; -o sets one property:
                   vm.KEY (memory.size, vcpus, cmdline, ...) or pci.0.SLOT.FUNC.KEY (a device's option)
                   vmm vhost-user --socket PATH EMULATION[,conf]
                   serve one device over vhost-user to another VMM (QEMU, user-mode Linux)
                   vmm vfio-user --socket PATH EMULATION[,conf]
                   serve one device as a PCI function over vfio-user to another VMM (passthrough)
            emulations:
                   hostbridge (slot 0), lpc (the ISA bridge carrying COM1/COM2)
                   virtio-blk,PATH[,ro][,sectorsize=N[/M]][,ser=SERIAL]
                   virtio-rng
                   virtio-net,TAP[,mac=xx:xx:xx:xx:xx:xx]   virtio-net-viona,TAP[,mac=...] (accelerated, offloads)
                   virtio-vsock,cid=N,path=SOCKET (guest CID N >= 3; host processes connect to SOCKET and
                   write CONNECT PORT; a guest connecting to CID 2 port P reaches SOCKET_P)
                   passthru,BUS/SLOT/FUNC | passthru,DDDD:BB:DD.F (a host device bound to vfio-pci)
                   passthru,vfio-user=SOCKET (a device another process serves over vfio-user)
            backends:  stdio | tcp=HOST:PORT | unix=PATH | log=FILE | none""";

    /** The default boot ROM: Debian's SeaBIOS. */
    public static final Path DEFAULT_BOOTROM = Path.of("/usr/share/seabios/bios-256k.bin");
    /** PCI slots the chipset occupies: the host bridge, and the PIIX ISA bridge with its PM function. */
    static final int HOST_BRIDGE_SLOT = 0, CHIPSET_SLOT = 1;

    /** The emulations the launcher knows, as bhyve names them, and the device type each one is. */
    static final Map<String, String> EMULATIONS = Map.of("virtio-blk", "virtio-blk", "virtio-rng", "virtio-rng",
            "virtio-net", "virtio-net", "virtio-net-viona", "virtio-net", "virtio-vsock", "virtio-vsock");
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
        try {
            return switch (command) {
                case "vhost-user" -> vhostUser(args.subList(1, args.size()));
                case "vfio-user" -> socketServer("vfio-user", "vmm.vfio-user", args.subList(1, args.size()));
                case "run" -> run(args.subList(1, args.size()));
                default -> throw new UsageException("unknown command '" + command + "' (try: vmm help)");
            };
        } catch (InvalidPathException e) {
            // Every file name (-k, --kernel, a disk, a socket, ...) becomes a Path somewhere; one the
            // file system cannot name (a NUL in it) is a usage error like any other.
            String name = e.getInput().replace("\0", "\\0");
            throw new UsageException("'" + name + "' is not a usable file name: " + e.getReason());
        }
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

    /** One setting and where it came from: {@code where} prefixes its errors (empty for flags whose checks name them already). */
    record Setting(String value, String where, boolean fromFile) {}

    /** A device in a slot as {@code -s} gives it: its emulation and options; {@code where} prefixes its errors. */
    record Device(String emulation, List<String> options, String where) {}

    /**
     * What the configuration files ({@code -k}), the flags and the generic
     * options ({@code -o}) say, in that order of precedence from low to high,
     * before it is checked and turned into configurations.
     */
    static final class Spec {
        Setting name, cpus, memory, bootrom, kernel, initrd, cmdline;
        final Map<Integer, Device> devices = new LinkedHashMap<>(); // slot << 3 | function
        final Map<String, Setting> serial = new LinkedHashMap<>();
        final Map<String, Setting> vmOptions = new LinkedHashMap<>(); // -o vm.KEY for keys without a flag
        final List<Map.Entry<String, Setting>> options = new ArrayList<>(); // -o KEY=VALUE, in order
    }

    /**
     * The properties of {@code vmm.vm} that {@code -o vm.KEY=VALUE} may set:
     * the attributes of the core's {@code PcMachineComponent.Config}
     * ({@code memory_size} is {@code memory.size}). A test keeps the two in step.
     */
    static final java.util.Set<String> VM_KEYS = new java.util.TreeSet<>(List.of("memory.size", "vcpus", "bootrom", "kernel",
            "initrd", "cmdline", "serial.console", "name", "reboot", "accel"));

    private static Plan run(List<String> args) throws UsageException {
        if (args.isEmpty()) return defaultVm(null);
        // "--accel X" alone still means the built-in default VM, on that back end.
        String accelOnly = args.size() == 2 && args.getFirst().equals("--accel") ? args.get(1)
                : args.size() == 1 && args.getFirst().startsWith("--accel=") ? args.getFirst().substring(8) : null;
        if (accelOnly != null) {
            if (!Accel.NAMES.contains(accelOnly))
                throw new UsageException(String.join(" ", args) + ": the accelerator is auto, kvm or emu");
            return defaultVm(accelOnly);
        }
        Spec spec = new Spec();
        // The files first, whatever their place on the line: every flag next to -k overrides them.
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("-k")) ConfigFile.read(Path.of(next(args, ++i, "-k needs a configuration file (JSON)")), spec);
            else if (a.startsWith("-k=")) ConfigFile.read(Path.of(a.substring(3)), spec);
        }
        Setting flagBootrom = null, flagKernel = null;
        java.util.Set<Integer> flagSlots = new java.util.HashSet<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "-k" -> i++;
                case "-c" -> {
                    String v = next(args, ++i, "-c needs a vCPU count");
                    spec.cpus = new Setting(v, "-c " + v, false);
                }
                case "-m" -> {
                    String v = next(args, ++i, "-m needs a size, e.g. -m 512M");
                    spec.memory = new Setting(v, "-m " + v, false);
                }
                case "-s" -> {
                    String v = next(args, ++i, "-s needs SLOT,EMULATION");
                    int comma = v.indexOf(',');
                    if (comma < 0) throw new UsageException("-s " + v + ": expected SLOT[:FUNC],EMULATION[,conf]");
                    int slot = slotKey(v.substring(0, comma), "-s " + v);
                    if (!flagSlots.add(slot)) throw new UsageException("-s " + v + ": slot " + v.substring(0, comma) + " is used twice");
                    List<String> parts = new ArrayList<>(List.of(v.substring(comma + 1).split(",", -1)));
                    spec.devices.remove(slot); // a flag's device replaces the file's in that slot, and comes in the flags' order
                    spec.devices.put(slot, new Device(parts.removeFirst(), parts, ""));
                }
                case "-l" -> {
                    String v = next(args, ++i, "-l needs com1,BACKEND or bootrom,FILE");
                    int comma = v.indexOf(',');
                    String what = comma < 0 ? v : v.substring(0, comma), rest = comma < 0 ? "" : v.substring(comma + 1);
                    switch (what) {
                        case "bootrom" -> flagBootrom = spec.bootrom = new Setting(rest, "", false);
                        case "com1", "com2" -> spec.serial.put(what, new Setting(rest, "-l " + v, false));
                        default -> throw new UsageException("-l " + what + ": unknown (com1, com2 or bootrom)");
                    }
                }
                case "-o" -> option(spec, next(args, ++i, "-o needs KEY=VALUE, e.g. -o vm.cmdline=quiet"), "-o ", false);
                case "--kernel" -> flagKernel = spec.kernel = new Setting(next(args, ++i,
                        "--kernel needs a file: an ELF vmlinux with a PVH entry, or a bzImage"), "", false);
                case "--initrd" -> spec.initrd = new Setting(next(args, ++i, "--initrd needs a file"), "", false);
                case "--cmdline" -> spec.cmdline = new Setting(next(args, ++i,
                        "--cmdline needs the kernel command line, e.g. --cmdline 'console=ttyS0'"), "", false);
                case "--no-reboot" -> spec.vmOptions.put("reboot", new Setting("false", "--no-reboot", false)); // QEMU's -no-reboot; bhyve has none
                case "--accel" -> {
                    String v = next(args, ++i, "--accel needs auto, kvm or emu");
                    spec.vmOptions.put("accel", new Setting(v, "--accel " + v, false));
                }
                default -> {
                    if (a.startsWith("-k=")) continue;
                    if (a.startsWith("--kernel=")) { flagKernel = spec.kernel = new Setting(a.substring(9), "", false); continue; }
                    if (a.startsWith("--initrd=")) { spec.initrd = new Setting(a.substring(9), "", false); continue; }
                    if (a.startsWith("--cmdline=")) { spec.cmdline = new Setting(a.substring(10), "", false); continue; }
                    if (a.startsWith("--accel=")) { spec.vmOptions.put("accel", new Setting(a.substring(8), a, false)); continue; }
                    if (a.startsWith("-")) throw new UsageException("run: unknown option " + a);
                    if (i != args.size() - 1) throw new UsageException("run: the VM name (" + a + ") comes last");
                    spec.name = new Setting(a, "", false);
                }
            }
        }
        // A boot path given by a flag replaces the files' boot path, whichever kind it is.
        if (flagKernel != null && flagBootrom == null && spec.bootrom != null && spec.bootrom.fromFile()) spec.bootrom = null;
        if (flagBootrom != null && flagKernel == null && spec.kernel != null && spec.kernel.fromFile()) {
            spec.kernel = null;
            if (spec.initrd != null && spec.initrd.fromFile()) spec.initrd = null;
            if (spec.cmdline != null && spec.cmdline.fromFile()) spec.cmdline = null;
        }
        for (Map.Entry<String, Setting> o : spec.options) applyOption(spec, o.getKey(), o.getValue());
        return plan(spec);
    }

    /** Records one {@code KEY=VALUE} of {@code -o} (or of a file's "options"); it is applied after every flag. */
    static void option(Spec spec, String kv, String prefix, boolean fromFile) throws UsageException {
        int eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageException(prefix + kv + ": expected KEY=VALUE, e.g. -o vm.cmdline=quiet");
        spec.options.add(Map.entry(kv.substring(0, eq), new Setting(kv.substring(eq + 1), prefix + kv, fromFile)));
    }

    /**
     * Applies a generic option: {@code vm.KEY} sets property KEY of
     * {@code vmm.vm} (through the same checks as its flag, where it has one),
     * {@code pci.BUS.SLOT.FUNC.KEY} sets option KEY of the device in that
     * slot as if written after its emulation on {@code -s}.
     */
    private static void applyOption(Spec spec, String key, Setting s) throws UsageException {
        Setting v = new Setting(s.value(), s.where(), s.fromFile());
        if (key.startsWith("vm.")) {
            String k = key.substring(3);
            switch (k) {
                case "memory.size" -> spec.memory = v;
                case "vcpus" -> spec.cpus = v;
                case "name" -> spec.name = v;
                case "bootrom" -> spec.bootrom = v;
                case "kernel" -> spec.kernel = v;
                case "initrd" -> spec.initrd = v;
                case "cmdline" -> spec.cmdline = v;
                default -> {
                    if (!VM_KEYS.contains(k))
                        throw new UsageException(s.where() + ": unknown key " + key + " (vmm.vm has: "
                                + String.join(", ", VM_KEYS.stream().map(x -> "vm." + x).toList()) + ")");
                    spec.vmOptions.put(k, v);
                }
            }
            return;
        }
        if (key.startsWith("pci.")) {
            String[] p = key.split("\\.", 5);
            int bus, slot, func;
            try {
                if (p.length < 5 || p[4].isEmpty()) throw new NumberFormatException();
                bus = Integer.parseInt(p[1]);
                slot = Integer.parseInt(p[2]);
                func = Integer.parseInt(p[3]);
            } catch (NumberFormatException e) {
                throw new UsageException(s.where() + ": a device key is pci.BUS.SLOT.FUNC.KEY, e.g. pci.0.4.0.ser=DISK1");
            }
            if (bus != 0 || slot < 0 || slot > 31 || func < 0 || func > 7)
                throw new UsageException(s.where() + ": " + bus + ":" + slot + "." + func + " is outside bus 0, slots 0..31, functions 0..7");
            Device d = spec.devices.get(slot << 3 | func);
            if (d == null)
                throw new UsageException(s.where() + ": no device at slot " + slot + ":" + func + " (give it first: -s " + slot
                        + (func == 0 ? "" : ":" + func) + ",EMULATION)");
            if (d.emulation().equals("hostbridge") || d.emulation().equals("lpc"))
                throw new UsageException(s.where() + ": the " + d.emulation() + " at slot " + slot + " has no options");
            String k = p[4];
            if (s.value().isEmpty()) throw new UsageException(s.where() + ": no value");
            if (k.equals(POSITIONAL.get(d.emulation()))) {
                if (d.options().isEmpty() || d.options().getFirst().contains("=")) d.options().addFirst(s.value());
                else d.options().set(0, s.value());
            } else {
                d.options().add(k + "=" + s.value());
            }
            return;
        }
        throw new UsageException(s.where() + ": unknown key " + key + " (keys are vm.KEY or pci.BUS.SLOT.FUNC.KEY)");
    }

    /** The option an emulation takes first, without a key on {@code -s}; {@code -o} and files name it. */
    static final Map<String, String> POSITIONAL = Map.of("virtio-blk", "path", "virtio-net", "tap", "virtio-net-viona", "tap");

    /** Checks everything and makes the configurations. */
    private static Plan plan(Spec spec) throws UsageException {
        int vcpus = 1;
        if (spec.cpus != null) {
            String v = spec.cpus.value();
            try {
                vcpus = Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new UsageException(label(spec.cpus, "-c " + v) + ": not a number of vCPUs");
            }
            if (vcpus < 1 || vcpus > 255) throw new UsageException(label(spec.cpus, "-c " + v) + ": must be 1..255");
        }
        String memory = spec.memory == null ? "256M" : spec.memory.value();
        try {
            MemorySize.parse(memory);
        } catch (IllegalArgumentException e) {
            throw new UsageException(label(spec.memory, "-m " + memory) + ": " + e.getMessage());
        }
        List<Config> configs = new ArrayList<>();
        for (Map.Entry<Integer, Device> e : spec.devices.entrySet()) {
            Device d = e.getValue();
            int slot = e.getKey() >> 3, func = e.getKey() & 7;
            try {
                Config c = device(slot, func, d);
                if (c != null) configs.add(c);
            } catch (UsageException x) {
                throw new UsageException(d.where().isEmpty() ? x.getMessage() : d.where() + ": " + x.getMessage());
            }
        }
        boolean com1 = false;
        for (Map.Entry<String, Setting> e : spec.serial.entrySet()) {
            String port = e.getKey(), backend = e.getValue().value();
            if (!backend.matches("stdio|none|tcp=.+:\\d+|unix=.+|log=.+"))
                throw new UsageException(e.getValue().where() + ": the backend must be stdio, tcp=HOST:PORT, unix=PATH, log=FILE or none");
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("port", port);
            p.put("backend", backend);
            configs.add(new Config("device.uart", port, p));
            com1 |= port.equals("com1");
        }
        String kernel = spec.kernel == null ? null : spec.kernel.value(), initrd = spec.initrd == null ? null : spec.initrd.value(),
                cmdline = spec.cmdline == null ? null : spec.cmdline.value();
        if (kernel == null && (initrd != null || cmdline != null))
            throw new UsageException("run: " + (initrd != null ? "--initrd" : "--cmdline") + " goes with --kernel FILE");
        if (kernel != null && spec.bootrom != null)
            throw new UsageException("run: give either -l bootrom,FILE (firmware) or --kernel FILE (Linux without firmware), not both");
        if (spec.bootrom == null && kernel == null)
            throw new UsageException("run: no boot path: give -l bootrom,FILE (e.g. " + DEFAULT_BOOTROM + ") or --kernel FILE");
        Map<String, Object> vm = new LinkedHashMap<>();
        vm.put("memory.size", memory);
        vm.put("vcpus", vcpus);
        if (spec.bootrom != null) {
            vm.put("bootrom", prefixed(spec.bootrom, () -> bootrom(spec.bootrom.value())));
        } else {
            vm.put("kernel", prefixed(spec.kernel, () -> kernel(kernel, initrd, cmdline == null ? "" : cmdline, memory)));
            if (initrd != null) vm.put("initrd", Path.of(initrd).toAbsolutePath().toString());
            vm.put("cmdline", cmdline == null ? "" : cmdline);
        }
        vm.put("name", spec.name == null ? "vm" : spec.name.value());
        if (com1) vm.put("serial.console", 0x3f8);
        for (Map.Entry<String, Setting> e : spec.vmOptions.entrySet()) {
            Object value = e.getValue().value();
            if (e.getKey().equals("reboot") && !e.getValue().value().matches("true|false"))
                throw new UsageException(e.getValue().where() + ": reboot is true or false");
            if (e.getKey().equals("accel") && !Accel.NAMES.contains(e.getValue().value()))
                throw new UsageException(e.getValue().where() + ": the accelerator is auto, kvm or emu");
            if (e.getKey().equals("serial.console")) {
                try {
                    value = Integer.decode(e.getValue().value());
                } catch (NumberFormatException x) {
                    throw new UsageException(e.getValue().where() + ": not an I/O port number");
                }
            }
            vm.put(e.getKey(), value);
        }
        configs.addFirst(new Config("vmm.vm", null, vm));
        return new Plan("run", configs);
    }

    private interface Check {
        String get() throws UsageException;
    }

    /** Runs a check whose message names the value itself, prefixing where the value came from when that was a file. */
    private static String prefixed(Setting s, Check check) throws UsageException {
        try {
            return check.get();
        } catch (UsageException e) {
            throw new UsageException(s.where().isEmpty() ? e.getMessage() : s.where() + ": " + e.getMessage());
        }
    }

    private static String label(Setting s, String flag) {
        return s.where().isEmpty() ? flag : s.where();
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

    /** A device's configuration, or null for the chipset's functions ({@code hostbridge}, {@code lpc}) that are always there. */
    private static Config device(int slot, int func, Device d) throws UsageException {
        String spec = slot + (func == 0 ? "" : ":" + func) + "," + d.emulation();
        if (d.emulation().equals("hostbridge")) {
            if (slot != HOST_BRIDGE_SLOT) throw new UsageException("-s " + spec + ": the host bridge is at slot 0 on this machine");
            return null;
        }
        if (d.emulation().equals("lpc")) return null; // the PIIX ISA bridge at 00:01.0 carries COM1/COM2 always
        if (slot == HOST_BRIDGE_SLOT || slot == CHIPSET_SLOT)
            throw new UsageException("-s " + spec + ": slot " + slot + " is the chipset's (" + (slot == 0 ? "host bridge" : "PIIX ISA bridge and power management") + ")");
        if (d.emulation().equals("passthru")) return passthru(spec, d.options(), slot, func);
        Map<String, Object> props = emulation(d.emulation(), new ArrayList<>(d.options()));
        props.put("address", "0:" + slot + "." + func);
        return new Config("vmm.device", "s" + slot + "_" + func, props);
    }

    /** Host devices as bhyve ({@code BUS/SLOT/FUNC}, decimal) and lspci -D ({@code DDDD:BB:DD.F}) write them. */
    private static final java.util.regex.Pattern HOST_PCI = java.util.regex.Pattern.compile(
            "\\d{1,3}/\\d{1,2}/\\d|(?i)([0-9a-f]{4}:)?[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]");

    /**
     * {@code -s SLOT,passthru,HOST} (or a file's {@code {"emulation": "passthru", "host": HOST}}): a
     * {@code device.pci-passthru} configuration; the device itself is checked when it is opened.
     */
    private static Config passthru(String spec, List<String> options, int slot, int func) throws UsageException {
        if (options.size() != 1 || options.getFirst().isBlank() || options.getFirst().equals("host="))
            throw new UsageException("-s " + spec + ": passthru needs the host device: passthru,BUS/SLOT/FUNC, passthru,DDDD:BB:DD.F or passthru,vfio-user=SOCKET");
        String host = options.getFirst().trim();
        if (host.startsWith("host=")) host = host.substring("host=".length());
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
        List<String> parts = new ArrayList<>(List.of(spec.split(",", -1)));
        return emulation(parts.removeFirst(), parts);
    }

    /** Emulation {@code name} with its options ({@code -s}'s comma-separated parts after the name) as device configuration properties. */
    static Map<String, Object> emulation(String name, List<String> options) throws UsageException {
        String type = EMULATIONS.get(name);
        if (type == null) throw new UsageException("unknown emulation '" + name + "' (known: " + String.join(", ", EMULATIONS.keySet().stream().sorted().toList()) + ")");
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("type", type);
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
            case "virtio-vsock" -> vsock(options, props);
            default -> {
                for (String o : options) {
                    if (!o.contains("=") || o.startsWith("=")) throw new UsageException(name + ": option '" + o + "' is not key=value");
                    props.put(o.substring(0, o.indexOf('=')), value(o));
                }
            }
        }
        return props;
    }

    /**
     * {@code virtio-vsock,cid=N,path=SOCKET}: both required; the CID a guest may have, a socket path that
     * can be made.
     */
    private static void vsock(List<String> options, Map<String, Object> props) throws UsageException {
        for (String o : options) {
            if (!o.contains("=") || o.startsWith("="))
                throw new UsageException("virtio-vsock: option '" + o + "' is not key=value");
            props.put(o.substring(0, o.indexOf('=')), value(o));
        }
        Object cid = props.get("cid");
        if (cid == null)
            throw new UsageException("virtio-vsock needs the guest's CID: virtio-vsock,cid=3,path=/run/vm.vsock");
        long n;
        try {
            n = Long.parseLong(cid.toString());
        } catch (NumberFormatException e) {
            throw new UsageException("virtio-vsock: cid=" + cid + " is not a number");
        }
        if (n < 3 || n > 0xffff_fffeL)
            throw new UsageException("virtio-vsock: cid=" + cid + " must be 3..4294967294 (0-2 are reserved)");
        Object p = props.get("path");
        if (p == null)
            throw new UsageException("virtio-vsock needs the host socket: virtio-vsock,cid=" + cid
                    + ",path=/run/vm.vsock");
        Path path = Path.of(p.toString()).toAbsolutePath();
        if (Files.isDirectory(path))
            throw new UsageException("virtio-vsock: path=" + p + " is a directory, not a socket path");
        if (path.getParent() == null || !Files.isDirectory(path.getParent()))
            throw new UsageException("virtio-vsock: path=" + p + ": the directory " + path.getParent()
                    + " does not exist");
        props.put("path", path.toString());
    }

    private static String value(String option) throws UsageException {
        String v = option.substring(option.indexOf('=') + 1);
        if (v.isEmpty()) throw new UsageException("option '" + option + "' has no value");
        return v;
    }
}
