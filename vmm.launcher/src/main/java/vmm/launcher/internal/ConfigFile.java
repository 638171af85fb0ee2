package vmm.launcher.internal;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import vmm.launcher.internal.Arguments.Device;
import vmm.launcher.internal.Arguments.Setting;
import vmm.launcher.internal.Arguments.Spec;
import vmm.launcher.internal.Arguments.UsageException;

/**
 * {@code vmm run -k FILE}: a JSON file saying what the flags say, read into
 * the same {@link Spec} the flags fill, so it becomes the same Configuration
 * Admin configurations. Its keys:
 * <pre>
 * {
 *   "name": "myvm",                       VMNAME
 *   "cpus": 2,                            -c
 *   "memory": "512M",                     -m
 *   "bootrom": "/usr/share/seabios/bios-256k.bin",        -l bootrom,FILE
 *   "kernel": "vmlinux", "initrd": "initrd.img", "cmdline": "console=ttyS0",
 *   "devices": {                          -s, keyed by SLOT[:FUNC]
 *     "4": "virtio-blk,disk.img,ro",                       as on -s
 *     "5": {"emulation": "virtio-net", "tap": "tap0", "mac": "52:54:00:12:34:56"}
 *   },
 *   "serial": {"com1": "stdio", "com2": "log=/tmp/com2.log"},   -l comN,BACKEND
 *   "options": {"vm.cmdline": "quiet", "pci.0.4.0.ser": "DISK1"}  -o KEY=VALUE
 * }
 * </pre>
 * Relative paths are relative to the current directory, as on the command
 * line. Every error names the file, the line and column, and the key.
 */
final class ConfigFile {
    static final List<String> KEYS = List.of("bootrom", "cmdline", "cpus", "devices", "initrd", "kernel", "memory", "name",
            "options", "serial");

    private ConfigFile() {}

    /** Reads {@code file} into {@code spec}. */
    static void read(Path file, Spec spec) throws UsageException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (NoSuchFileException e) {
            throw new UsageException("-k " + file + ": no such file");
        } catch (CharacterCodingException e) {
            throw new UsageException(file + ": not UTF-8 text");
        } catch (IOException e) {
            throw new UsageException("-k " + file + ": cannot read: " + e.getMessage());
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (Json.SyntaxException e) {
            throw new UsageException(file + ":" + e.getMessage());
        }
        if (!(root instanceof Json.Obj o)) throw new UsageException(file + ":1:1: the file must hold one JSON object, { ... }");
        for (Map.Entry<String, Object> e : o.entrySet()) {
            String key = e.getKey(), at = file + ":" + o.at(key) + ": " + key;
            Object v = e.getValue();
            switch (key) {
                case "name" -> spec.name = new Setting(string(v, at), at, true);
                case "cpus" -> spec.cpus = new Setting(scalar(v, at), at, true);
                case "memory" -> spec.memory = new Setting(scalar(v, at), at, true);
                case "bootrom" -> spec.bootrom = new Setting(string(v, at), at, true);
                case "kernel" -> spec.kernel = new Setting(string(v, at), at, true);
                case "initrd" -> spec.initrd = new Setting(string(v, at), at, true);
                case "cmdline" -> spec.cmdline = new Setting(string(v, at), at, true);
                case "serial" -> {
                    Json.Obj ports = object(v, at);
                    for (Map.Entry<String, Object> p : ports.entrySet()) {
                        String pat = file + ":" + ports.at(p.getKey()) + ": serial." + p.getKey();
                        if (!p.getKey().equals("com1") && !p.getKey().equals("com2"))
                            throw new UsageException(pat + ": unknown port (com1 or com2)");
                        spec.serial.put(p.getKey(), new Setting(string(p.getValue(), pat), pat, true));
                    }
                }
                case "devices" -> {
                    Json.Obj slots = object(v, at);
                    for (Map.Entry<String, Object> d : slots.entrySet()) {
                        String dat = file + ":" + slots.at(d.getKey()) + ": devices." + d.getKey();
                        int slot = Arguments.slotKey(d.getKey(), dat);
                        spec.devices.put(slot, device(d.getValue(), dat));
                    }
                }
                case "options" -> {
                    Json.Obj options = object(v, at);
                    for (Map.Entry<String, Object> p : options.entrySet()) {
                        String oat = file + ":" + options.at(p.getKey()) + ": options." + p.getKey();
                        spec.options.add(Map.entry(p.getKey(), new Setting(scalar(p.getValue(), oat), oat, true)));
                    }
                }
                default -> throw new UsageException(at + ": unknown key (known: " + String.join(", ", KEYS) + ")");
            }
        }
    }

    /** A device: bhyve's {@code EMULATION[,conf]} string, or an object with "emulation" and its options as members. */
    private static Device device(Object v, String at) throws UsageException {
        if (v instanceof String s) {
            List<String> parts = new ArrayList<>(List.of(s.split(",", -1)));
            String emulation = parts.removeFirst();
            if (emulation.isEmpty()) throw new UsageException(at + ": no emulation");
            return new Device(emulation, parts, at);
        }
        if (!(v instanceof Json.Obj o))
            throw new UsageException(at + ": a device is \"EMULATION[,conf]\" or {\"emulation\": ..., OPTION: VALUE, ...}");
        if (!o.containsKey("emulation")) throw new UsageException(at + ": \"emulation\" is missing (e.g. \"virtio-blk\")");
        String emulation = string(o.get("emulation"), at + ".emulation");
        String positional = Arguments.POSITIONAL.get(emulation);
        List<String> options = new ArrayList<>();
        for (Map.Entry<String, Object> e : o.entrySet()) {
            String k = e.getKey();
            if (k.equals("emulation")) continue;
            String value = scalar(e.getValue(), at + "." + k);
            if (k.equals(positional)) options.addFirst(value);
            else options.add(k + "=" + value);
        }
        return new Device(emulation, options, at);
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
