package vmm.launcher.internal;

import java.util.List;
import java.util.Map;

import vmm.launcher.internal.Arguments.UsageException;

/**
 * bhyve's flags as what they are there: shorthands that set bhyve_config(5)
 * variables, parsed as bhyve's own parser does ({@code -c}'s topology, {@code
 * -s}'s legacy device strings, {@code -l}'s LPC devices). Nothing here checks
 * a value's meaning; the plan does that once, whoever set the variable.
 */
final class Shorthands {
    /**
     * bhyve's flags without an argument and the variable each sets to the value given ({@code -A}:
     * acpi_tables=true ...). They may be bundled, {@code -AHP}, as getopt allows.
     */
    static final Map<Character, String[]> LETTERS = Map.ofEntries(
            Map.entry('A', new String[] {"acpi_tables", "true"}),
            Map.entry('a', new String[] {"x86.x2apic", "false"}),
            Map.entry('C', new String[] {"memory.guest_in_core", "true"}),
            Map.entry('D', new String[] {"destroy_on_poweroff", "true"}),
            Map.entry('e', new String[] {"x86.strictio", "true"}),
            Map.entry('H', new String[] {"x86.vmexit_on_hlt", "true"}),
            Map.entry('P', new String[] {"x86.vmexit_on_pause", "true"}),
            Map.entry('S', new String[] {"memory.wired", "true"}),
            Map.entry('u', new String[] {"rtc.use_localtime", "false"}),
            Map.entry('W', new String[] {"virtio_msix", "false"}),
            Map.entry('w', new String[] {"x86.strictmsr", "false"}),
            Map.entry('x', new String[] {"x86.x2apic", "true"}),
            Map.entry('Y', new String[] {"x86.mptable", "false"}));

    private Shorthands() {}

    /** Whether {@code arg} is one or more of {@link #LETTERS} bundled ({@code -H}, {@code -AHP}). */
    static boolean isLetters(String arg) {
        return arg.length() > 1 && arg.charAt(0) == '-'
                && arg.chars().skip(1).allMatch(c -> LETTERS.containsKey((char) c));
    }

    static void letters(ConfigTree tree, String arg) throws UsageException {
        for (char c : arg.substring(1).toCharArray()) {
            String[] v = LETTERS.get(c);
            tree.set(v[0], v[1], "-" + c);
        }
    }

    /** {@code -c [[cpus=]n][,sockets=n][,cores=n][,threads=n]}. */
    static void cpus(ConfigTree tree, String value) throws UsageException {
        String where = "-c " + value;
        if (value.isEmpty()) throw new UsageException("-c needs a vCPU count or topology: -c "
                + "[[cpus=]n][,sockets=n][,cores=n][,threads=n]");
        for (String part : value.split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? "cpus" : part.substring(0, eq), v = eq < 0 ? part : part.substring(eq + 1);
            if (!List.of("cpus", "sockets", "cores", "threads").contains(key))
                throw new UsageException(where + ": '" + part + "' is not cpus=, sockets=, cores= or threads=");
            tree.set(key, v, where);
        }
    }

    /**
     * {@code -l com1,BACKEND}, {@code -l bootrom,FILE[,VARSFILE]}, and bhyve's other LPC devices as their
     * variables.
     */
    static void lpc(ConfigTree tree, String value) throws UsageException {
        String where = "-l " + value;
        int comma = value.indexOf(',');
        String what = comma < 0 ? value : value.substring(0, comma), rest = comma < 0 ? "" : value.substring(comma + 1);
        switch (what) {
            case "bootrom" -> {
                if (rest.isEmpty()) throw new UsageException("-l bootrom needs a file: -l bootrom,FILE");
                int c = rest.indexOf(',');
                tree.set("lpc.bootrom", c < 0 ? rest : rest.substring(0, c), "");
                if (c >= 0) tree.set("lpc.bootvars", rest.substring(c + 1), where);
            }
            case "com1", "com2", "com3", "com4" -> tree.set("lpc." + what + ".path", rest, where);
            case "pc-testdev" -> tree.set("lpc.pc-testdev", "true", where);
            case "fwcfg" -> tree.set("lpc.fwcfg", rest, where);
            default -> throw new UsageException("-l " + what + ": unknown LPC device (com1, com2, bootrom)");
        }
    }

    /**
     * {@code -s SLOT[:FUNC]|BUS:SLOT:FUNC,EMULATION[,conf]}: {@code pci.B.S.F.device} and the variables the emulation's
     * legacy string stands for.
     */
    static void slot(ConfigTree tree, String value, java.util.Set<Integer> flagSlots) throws UsageException {
        String where = "-s " + value;
        int comma = value.indexOf(',');
        if (comma < 0) throw new UsageException(where + ": expected SLOT[:FUNC],EMULATION[,conf]");
        int key = Arguments.slotKey(value.substring(0, comma), where);
        String node = "pci.0." + (key >> 3) + "." + (key & 7);
        if (!flagSlots.add(key))
            throw new UsageException(where + ": slot " + value.substring(0, comma) + " is used twice");
        tree.remove(node); // a flag's device replaces a file's in that slot
        String rest = value.substring(comma + 1);
        int c = rest.indexOf(',');
        String emulation = c < 0 ? rest : rest.substring(0, c);
        if (emulation.isEmpty()) throw new UsageException(where + ": no emulation");
        tree.set(node + ".device", emulation, where);
        legacy(tree, node, emulation, c < 0 ? null : rest.substring(c + 1), where);
    }

    /**
     * An emulation's options as bhyve's legacy parsers read them: virtio-blk's first option without {@code =} is
     * {@code path}, virtio-net's is {@code backend}, passthru's {@code B/S/F} is {@code bus}, {@code slot} and
     * {@code func} (and a host address in Linux's form our {@code host}); then {@code key=value} sets {@code key} and a
     * bare {@code key} sets {@code key=true}.
     */
    static void legacy(ConfigTree tree, String node, String emulation, String options,
            String where) throws UsageException {
        if (options == null) return;
        List<String> parts = List.of(options.split(",", -1));
        if (emulation.startsWith("ahci")) {
            ahci(tree, node, emulation, parts, where);
            return;
        }
        if (emulation.equals("xhci")) { // USB devices in slots 1, 2, ...
            for (int i = 0; i < parts.size(); i++) tree.set(node + ".slot." + (i + 1) + ".device", parts.get(i), where);
            return;
        }
        int first = 0;
        String head = parts.getFirst();
        if (!head.contains("=") && !head.isEmpty()) {
            switch (Arguments.POSITIONAL.getOrDefault(emulation, "")) {
                case "path" -> { tree.set(node + ".path", head, where); first = 1; }
                case "backend" -> { tree.set(node + ".backend", head, where); first = 1; }
                case "host" -> {
                    String[] bsf = head.split("/", -1);
                    if (bsf.length == 3 && head.matches("\\d{1,3}/\\d{1,2}/\\d")) {
                        tree.set(node + ".bus", bsf[0], where);
                        tree.set(node + ".slot", bsf[1], where);
                        tree.set(node + ".func", bsf[2], where);
                    } else {
                        tree.set(node + ".host", head, where);
                    }
                    first = 1;
                }
                default -> { }
            }
        }
        options(tree, node, parts.subList(first, parts.size()), where);
    }

    /**
     * bhyve's AHCI strings (kept so that {@code config.dump} writes what bhyve would, though this machine has no
     * AHCI): {@code ahci-hd,PATH} and {@code ahci-cd,PATH} are port 0; {@code ahci}'s {@code hd:PATH} and
     * {@code cd:PATH} each start the next port.
     */
    private static void ahci(ConfigTree tree, String node, String emulation, List<String> parts,
            String where) throws UsageException {
        int port = -1;
        List<String> rest = new java.util.ArrayList<>();
        for (String p : parts) {
            String type = emulation.equals("ahci") ? p.startsWith("hd:") ? "hd" : p.startsWith("cd:") ? "cd" : null
                    : port < 0 ? emulation.substring(5) : null;
            if (type != null) {
                if (port >= 0) options(tree, node + ".port." + port, rest, where);
                rest.clear();
                port++;
                tree.set(node + ".port." + port + ".type", type, where);
                tree.set(node + ".port." + port + ".path", emulation.equals("ahci") ? p.substring(3) : p, where);
            } else if (port < 0) {
                throw new UsageException(where + ": '" + p + "' is not hd:PATH or cd:PATH");
            } else {
                rest.add(p);
            }
        }
        if (port >= 0) options(tree, node + ".port." + port, rest, where);
    }

    /** bhyve's generic legacy options: {@code key=value} sets {@code key}, a bare {@code key} sets {@code key=true}. */
    private static void options(ConfigTree tree, String node, List<String> parts, String where) throws UsageException {
        for (String p : parts) {
            int eq = p.indexOf('=');
            if (p.isEmpty() || eq == 0) throw new UsageException(where + ": option '" + p
                    + "' is not key=value or a flag");
            if (eq < 0) tree.set(node + "." + p, "true", where);
            else if (eq == p.length() - 1) throw new UsageException("option '" + p + "' has no value");
            else tree.set(node + "." + p.substring(0, eq), p.substring(eq + 1), where);
        }
    }
}
