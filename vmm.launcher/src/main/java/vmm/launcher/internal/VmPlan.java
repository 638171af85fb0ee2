package vmm.launcher.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import vmm.core.machine.MemorySize;
import vmm.launcher.internal.Arguments.Config;
import vmm.launcher.internal.Arguments.Plan;
import vmm.launcher.internal.Arguments.UsageException;

/**
 * A bhyve_config(5) tree read as bhyve reads it, checked, and turned into
 * the Configuration Admin configurations of a run: {@code vmm.vm}, one
 * {@code vmm.device} or {@code device.pci-passthru} per PCI function, one
 * {@code vmm.device} of type {@code uart} (no address: it sits on the I/O ports) per COM port. Every value is checked here, so a bad one
 * is one line (naming the file and line, or the flag, and the variable)
 * before anything starts.
 */
final class VmPlan {
    private VmPlan() {}

    /** The warning naming the variables nothing read, so a typo is seen; they are kept for {@code %(var)}. */
    static String unreadWarning(List<String> names) {
        return "warning: nothing here reads " + String.join(", ", names) + " (kept for %(var) references; a typo?)";
    }

    static Plan plan(ConfigTree t) throws UsageException {
        return plan(t, java.util.Set.of());
    }

    /** {@link #plan(ConfigTree)}, where {@code providerTypes} are the device types installed providers offer. */
    static Plan plan(ConfigTree t, java.util.Set<String> providerTypes) throws UsageException {
        List<String> warnings = new ArrayList<>();
        int vcpus = cpus(t);
        String memory = memory(t);
        if (t.bool("memory.wired", false))
            warnings.add("warning: memory.wired: guest RAM is not wired (mlock) here; ignored");
        if (!t.bool("acpi_tables", true))
            warnings.add("warning: acpi_tables=false: this machine always offers its ACPI tables to the firmware");
        // HLT and PAUSE always leave guest mode here (KVM idles a halted vCPU, the software CPU waits), as -H
        // and -P ask.
        t.bool("x86.vmexit_on_hlt", false);
        t.bool("x86.vmexit_on_pause", false);
        String uuid = t.get("uuid");
        if (uuid != null) {
            try {
                java.util.UUID.fromString(uuid);
            } catch (IllegalArgumentException e) {
                throw new UsageException(t.origin("uuid") + ": uuid=" + uuid + " is not a UUID");
            }
            warnings.add("warning: uuid: this machine has no SMBIOS tables to carry it; ignored");
        }
        String gdb = t.get("gdb.port");
        if (gdb != null && !gdb.equals("0")) throw new UsageException(t.origin("gdb.port")
                + ": there is no debug server (gdb.port)");
        if (t.get("lpc.bootvars") != null)
            throw new UsageException(t.origin("lpc.bootvars")
                    + ": lpc.bootvars: there is no UEFI variable store (SeaBIOS needs none)");

        List<Config> configs = new ArrayList<>(devices(t, providerTypes));
        boolean com1 = false;
        for (String port : List.of("com1", "com2", "com3", "com4")) {
            String var = "lpc." + port + ".path", backend = t.get(var);
            if (backend == null) continue;
            String at = t.origin(var);
            if (port.equals("com3") || port.equals("com4"))
                throw new UsageException(at + ": " + port + ": this machine has COM1 and COM2");
            if (backend.startsWith("/"))
                throw new UsageException(at + ": " + backend + ": a tty as a COM port's back end is not supported here"
                        + " (stdio, tcp=HOST:PORT, unix=PATH, log=FILE or none)");
            if (!backend.matches("stdio|none|tcp=.+:\\d+|unix=.+|log=.+"))
                throw new UsageException(at
                        + ": the backend must be stdio, tcp=HOST:PORT, unix=PATH, log=FILE or none");
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("type", "uart");
            p.put("port", port);
            p.put("backend", backend);
            configs.add(new Config("vmm.device", port, p));
            com1 |= port.equals("com1");
        }
        String bootrom = t.get("lpc.bootrom"), kernel = t.get("kernel"), initrd = t.get("initrd"),
                cmdline = t.get("cmdline");
        if (kernel == null && (initrd != null || cmdline != null))
            throw new UsageException("run: " + (initrd != null ? "--initrd" : "--cmdline")
                    + " goes with --kernel FILE");
        if (kernel != null && bootrom != null)
            throw new UsageException("run: give either -l bootrom,FILE (firmware) or --kernel FILE (Linux without "
                    + "firmware), not both");
        if (bootrom == null && kernel == null)
            throw new UsageException("run: no boot path: give -l bootrom,FILE (e.g. " + Arguments.DEFAULT_BOOTROM
                    + ") or --kernel FILE");
        Map<String, Object> vm = new LinkedHashMap<>();
        vm.put("memory.size", memory);
        vm.put("vcpus", vcpus);
        if (bootrom != null) {
            vm.put("bootrom", prefixed(t, "lpc.bootrom", () -> Arguments.bootrom(bootrom)));
        } else {
            vm.put("kernel", prefixed(t, "kernel", () -> Arguments.kernel(kernel, initrd, cmdline == null ? ""
                    : cmdline, memory)));
            if (initrd != null) vm.put("initrd", Path.of(initrd).toAbsolutePath().toString());
            vm.put("cmdline", cmdline == null ? "" : cmdline);
        }
        vm.put("name", t.get("name", "vm"));
        if (com1) vm.put("serial.console", 0x3f8);
        if (t.has("reboot")) vm.put("reboot", t.bool("reboot", true) ? "true" : "false");
        String accel = t.get("accel");
        if (accel != null) {
            if (!Accel.NAMES.contains(accel)) throw new UsageException(t.origin("accel")
                    + ": the accelerator is auto, kvm or emu");
            vm.put("accel", accel);
        }
        if (t.bool("deterministic", false)) {
            // Only the software CPU can replay a run; auto means it here, and kvm is a contradiction.
            if ("kvm".equals(accel)) throw new UsageException(t.origin("deterministic")
                    + ": a deterministic run needs the software CPU (accel emu); KVM runs in real time");
            vm.put("deterministic", "true");
            vm.put("accel", "emu");
        }
        String console = t.get("serial.console");
        if (console != null) {
            try {
                vm.put("serial.console", Integer.decode(console));
            } catch (NumberFormatException x) {
                throw new UsageException(t.origin("serial.console") + ": not an I/O port number");
            }
        }
        configs.addFirst(new Config("vmm.vm", null, vm));
        warnings.addAll(t.warnings());
        List<String> unread = t.unread();
        if (!unread.isEmpty()) warnings.add(unreadWarning(unread));
        return new Plan("run", configs, warnings, "");
    }

    /** {@code cpus}, and bhyve's topology: sockets, cores and threads, each 1 by default, whose product is cpus. */
    private static int cpus(ConfigTree t) throws UsageException {
        Integer cpus = integer(t, "cpus");
        boolean topology = t.has("sockets") || t.has("cores") || t.has("threads");
        int product = 1;
        for (String v : List.of("sockets", "cores", "threads")) {
            Integer n = integer(t, v);
            if (n != null && (n < 1 || n > 255)) throw new UsageException(label(t, v) + ": must be 1..255");
            product *= n == null ? 1 : n;
        }
        if (cpus == null) cpus = product;
        if (cpus < 1 || cpus > 255) throw new UsageException(label(t, "cpus") + ": must be 1..255");
        if (topology && product != cpus)
            throw new UsageException(label(t, "cpus") + ": cpus=" + cpus + " but sockets*cores*threads = " + product);
        return cpus;
    }

    private static Integer integer(ConfigTree t, String var) throws UsageException {
        String v = t.get(var);
        if (v == null) return null;
        try {
            return Integer.decode(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(label(t, var) + ": " + (var.equals("cpus") ? "not a number of vCPUs"
                    : "not a number"));
        }
    }

    /** Where a variable came from, naming the variable when its origin (a flag) does not. */
    private static String label(ConfigTree t, String var) {
        String o = t.origin(var);
        return o.startsWith("-") || o.contains(": ") || o.equals(var) ? o : o + ": " + var;
    }

    /**
     * {@code memory.size} as bhyve reads it: a bare number below 1 MiB is megabytes (bhyve's rule, so {@code -m 256}
     * is 256 MiB), any other bare number bytes, else a K/M/G/T suffix.
     */
    private static String memory(ConfigTree t) throws UsageException {
        String m = t.get("memory.size", "256M").trim();
        if (m.matches("\\d{1,18}") && Long.parseLong(m) < (1 << 20)) m = m + "M";
        try {
            MemorySize.parse(m);
        } catch (IllegalArgumentException e) {
            throw new UsageException(label(t, "memory.size") + ": " + e.getMessage());
        }
        return m;
    }

    private interface Check {
        String get() throws UsageException;
    }

    /**
     * Runs a check whose message names the value itself, prefixing where the value came from when that was not a
     * flag.
     */
    private static String prefixed(ConfigTree t, String var, Check check) throws UsageException {
        try {
            return check.get();
        } catch (UsageException e) {
            if (e instanceof Arguments.MissingFirmware) throw e;
            String o = t.origin(var);
            throw new UsageException(o.isEmpty() || o.equals(var) ? e.getMessage() : o + ": " + e.getMessage());
        }
    }

    /** The PCI functions: every {@code pci.B.S.F} node, by slot and function. */
    private static List<Config> devices(ConfigTree t, java.util.Set<String> providerTypes) throws UsageException {
        Map<Integer, String> nodes = new TreeMap<>();
        for (String rest : t.below("pci")) {
            String[] p = rest.split("\\.", 4);
            String var = "pci." + rest, at = t.origin(var);
            int bus, slot, func;
            try {
                if (p.length < 4) throw new NumberFormatException();
                bus = Integer.parseInt(p[0]);
                slot = Integer.parseInt(p[1]);
                func = Integer.parseInt(p[2]);
            } catch (NumberFormatException e) {
                throw new UsageException(at + ": a device variable is pci.BUS.SLOT.FUNC.VAR, e.g. pci.0.4.0.path");
            }
            if (bus != 0 || slot < 0 || slot > 31 || func < 0 || func > 7)
                throw new UsageException(at + ": " + bus + ":" + slot + "." + func
                        + " is outside bus 0, slots 0..31, functions 0..7");
            String node = "pci.0." + slot + "." + func;
            if (!t.has(node + ".device"))
                throw new UsageException(at + ": no device at slot " + slot + ":" + func + " (give it first: -s " + slot
                        + (func == 0 ? "" : ":" + func) + ",EMULATION, or " + node + ".device=EMULATION)");
            nodes.put(slot << 3 | func, node);
        }
        List<Config> configs = new ArrayList<>();
        for (Map.Entry<Integer, String> e : nodes.entrySet()) {
            Config c = Emulations.device(t, e.getKey() >> 3, e.getKey() & 7, e.getValue(), providerTypes);
            if (c != null) configs.add(c);
        }
        return configs;
    }
}
