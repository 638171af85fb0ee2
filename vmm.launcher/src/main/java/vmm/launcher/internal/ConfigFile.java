package vmm.launcher.internal;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import vmm.launcher.internal.Arguments.UsageException;

/**
 * {@code vmm run -k FILE}: a bhyve_config(5) file ({@code var=value} lines, see {@link ConfigTree#readFile}), or
 * the launcher's first syntax, a JSON object, read into the same variables. A file whose first character
 * other than white space is <code>{</code> is JSON:
 * <pre>
 * {
 *   "name": "myvm",                       name
 *   "cpus": 2,                            cpus
 *   "memory": "512M",                     memory.size
 *   "bootrom": "/usr/share/seabios/bios-256k.bin",        lpc.bootrom
 *   "kernel": "vmlinux", "initrd": "initrd.img", "cmdline": "console=ttyS0",
 *   "devices": {                          pci.0.SLOT.FUNC, keyed by SLOT[:FUNC]
 *     "4": "virtio-blk,disk.img,ro",                       as on -s
 *     "5": {"emulation": "virtio-net", "backend": "tap0", "mac": "52:54:00:12:34:56"}
 *   },
 *   "serial": {"com1": "stdio", "com2": "log=/tmp/com2.log"},   lpc.comN.path
 *   "options": {"memory.wired": "true", "pci.0.4.0.ser": "DISK1"}  -o VAR=VALUE
 * }
 * </pre>
 * Relative paths are relative to the current directory, as on the command
 * line. Every error names the file, the line (and for JSON the column), and the variable or key.
 */
final class ConfigFile {
    static final List<String> KEYS = List.of("bootrom", "cmdline", "cpus", "devices", "initrd", "kernel", "memory",
            "name", "options", "serial");
    /** The JSON keys that are one variable each, and that variable. */
    private static final Map<String, String> VARIABLES = Map.of("name", "name", "cpus", "cpus", "memory", "memory.size",
            "bootrom", "lpc.bootrom", "kernel", "kernel", "initrd", "initrd", "cmdline", "cmdline");

    private ConfigFile() {}

    /** Reads {@code file} into {@code tree}. */
    static void read(Path file, ConfigTree tree) throws UsageException {
        String text = ConfigTree.text(file);
        if (!text.strip().startsWith("{") && !text.strip().startsWith("[")) {
            tree.readFile(file);
            return;
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (Json.SyntaxException e) {
            throw new UsageException(file + ":" + e.getMessage());
        }
        if (!(root instanceof Json.Obj o)) throw new UsageException(file
                + ":1:1: the file must hold one JSON object, { ... }");
        for (Map.Entry<String, Object> e : o.entrySet()) {
            String key = e.getKey(), at = file + ":" + o.at(key) + ": " + key;
            Object v = e.getValue();
            switch (key) {
                case "name", "bootrom", "kernel", "initrd", "cmdline" -> tree.set(VARIABLES.get(key), string(v, at),
                        at);
                case "cpus", "memory" -> tree.set(VARIABLES.get(key), scalar(v, at), at);
                case "serial" -> {
                    Json.Obj ports = object(v, at);
                    for (Map.Entry<String, Object> p : ports.entrySet()) {
                        String pat = file + ":" + ports.at(p.getKey()) + ": serial." + p.getKey();
                        if (!p.getKey().equals("com1") && !p.getKey().equals("com2"))
                            throw new UsageException(pat + ": unknown port (com1 or com2)");
                        tree.set("lpc." + p.getKey() + ".path", string(p.getValue(), pat), pat);
                    }
                }
                case "devices" -> {
                    Json.Obj slots = object(v, at);
                    for (Map.Entry<String, Object> d : slots.entrySet()) {
                        String dat = file + ":" + slots.at(d.getKey()) + ": devices." + d.getKey();
                        int slot = Arguments.slotKey(d.getKey(), dat);
                        String node = "pci.0." + (slot >> 3) + "." + (slot & 7);
                        tree.remove(node);
                        device(tree, node, d.getValue(), dat);
                    }
                }
                case "options" -> {
                    Json.Obj options = object(v, at);
                    for (Map.Entry<String, Object> p : options.entrySet()) {
                        String oat = file + ":" + options.at(p.getKey()) + ": options." + p.getKey();
                        Arguments.option(tree, p.getKey(), scalar(p.getValue(), oat), oat);
                    }
                }
                default -> throw new UsageException(at + ": unknown key (known: " + String.join(", ", KEYS) + ")");
            }
        }
    }

    /**
     * A device: bhyve's {@code EMULATION[,conf]} string, or an object with "emulation" and its variables as
     * members.
     */
    private static void device(ConfigTree tree, String node, Object v, String at) throws UsageException {
        if (v instanceof String s) {
            int comma = s.indexOf(',');
            String emulation = comma < 0 ? s : s.substring(0, comma);
            if (emulation.isEmpty()) throw new UsageException(at + ": no emulation");
            tree.set(node + ".device", emulation, at);
            Shorthands.legacy(tree, node, emulation, comma < 0 ? null : s.substring(comma + 1), at);
            return;
        }
        if (!(v instanceof Json.Obj o))
            throw new UsageException(at
                    + ": a device is \"EMULATION[,conf]\" or {\"emulation\": ..., VAR: VALUE, ...}");
        if (!o.containsKey("emulation")) throw new UsageException(at
                + ": \"emulation\" is missing (e.g. \"virtio-blk\")");
        tree.set(node + ".device", string(o.get("emulation"), at + ".emulation"), at);
        for (Map.Entry<String, Object> e : o.entrySet()) {
            if (e.getKey().equals("emulation")) continue;
            tree.set(node + "." + e.getKey(), scalar(e.getValue(), at + "." + e.getKey()), at);
        }
    }

    private static Json.Obj object(Object v, String at) throws UsageException {
        if (v instanceof Json.Obj o) return o;
        throw new UsageException(at + ": must be an object, { ... }");
    }

    private static String string(Object v, String at) throws UsageException {
        if (v instanceof String s) return s;
        throw new UsageException(at + ": must be a string, was " + kind(v));
    }

    /** A string, number or boolean as the text a flag would carry. */
    private static String scalar(Object v, String at) throws UsageException {
        if (v instanceof String s) return s;
        if (v instanceof BigDecimal n) return n.toPlainString();
        if (v instanceof Boolean b) return b.toString();
        throw new UsageException(at + ": must be a string, number or boolean, was " + kind(v));
    }

    private static String kind(Object v) {
        return v instanceof Json.Obj ? "an object" : v instanceof List ? "an array" : v == Json.NULL ? "null"
                : v instanceof BigDecimal ? "a number" : v instanceof Boolean ? "a boolean" : "a string";
    }
}
