package vmm.launcher.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import vmm.core.platform.VmSnapshot;
import vmm.core.snapshot.Section;
import vmm.core.snapshot.SectionKind;
import vmm.core.snapshot.SnapshotFormatException;
import vmm.core.snapshot.SnapshotReader;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The launcher's side of a snapshot file: the VM's configuration it stores (the Configuration Admin
 * configurations {@code vmm run} wrote: {@code vmm.vm} and each {@code vmm.device} instance), and the checks
 * {@code vmm run -r FILE} makes before anything is configured: the file is whole and ours, its configuration can
 * be read, and an installed bundle provides every device type in it.
 */
public final class SnapshotFile {
    /** The state type of the configuration section. */
    static final String CONFIG_TYPE = "vmm.launcher.config";
    /** The configurations a snapshot stores, by PID or factory PID; the shell's socket is made again. */
    private static final String FILTER = "(|(service.pid=vmm.vm)(service.factoryPid=vmm.device)"
            + "(service.factoryPid=device.pci-passthru))";

    /** A file checked for {@code -r}: its reader, positioned nowhere, and the configurations to run. */
    record Restore(Path file, FileChannel channel, SnapshotReader reader, List<Arguments.Config> configs) {}

    private SnapshotFile() {
    }

    /**
     * The configuration of the running VM, from Configuration Admin, as the snapshot's configuration section.
     *
     * @throws IllegalStateException when the VM has a passed-through host device (its state is the host's) or
     *                               a property of a kind a snapshot does not store
     */
    public static DeviceState currentConfig(ConfigurationAdmin cm) throws IOException {
        Configuration[] found;
        try {
            found = cm.listConfigurations(FILTER);
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<Arguments.Config> configs = new ArrayList<>();
        for (Configuration c : found == null ? new Configuration[0] : found) {
            if ("device.pci-passthru".equals(c.getFactoryPid()))
                throw new IllegalStateException("a VM with a passed-through host device cannot be snapshot: the"
                        + " device's state is in the host's hardware");
            Map<String, Object> props = new LinkedHashMap<>();
            Dictionary<String, Object> d = c.getProperties();
            for (Enumeration<String> keys = d.keys(); keys.hasMoreElements(); ) {
                String k = keys.nextElement();
                if (k.startsWith("service.") || k.startsWith("felix.") || k.equals("hypervisor.target")) continue;
                props.put(k, d.get(k));
            }
            String factory = c.getFactoryPid();
            String name = factory == null ? null : c.getPid().substring(c.getPid().indexOf('~') + 1);
            Arguments.Config config = new Arguments.Config(factory == null ? c.getPid() : factory, name, props);
            if (factory == null) configs.addFirst(config);
            else configs.add(config);
        }
        if (configs.isEmpty() || configs.getFirst().isFactory())
            throw new IllegalStateException("the VM's configuration (vmm.vm) is not in Configuration Admin");
        return toState(configs);
    }

    /** The configurations as a versioned state: PID, factory name and typed properties. */
    static DeviceState toState(List<Arguments.Config> configs) {
        List<DeviceState> list = new ArrayList<>();
        for (Arguments.Config c : configs) {
            List<DeviceState> props = new ArrayList<>();
            for (Map.Entry<String, Object> e : c.properties().entrySet()) {
                Object v = e.getValue();
                String type = switch (v) {
                    case String s -> "string";
                    case Integer i -> "int";
                    case Long l -> "long";
                    case Boolean b -> "boolean";
                    default -> throw new IllegalStateException("configuration " + c.factoryPid() + " property "
                            + e.getKey() + " is a " + v.getClass().getSimpleName()
                                    + ", which a snapshot does not store");
                };
                props.add(DeviceState.builder("property", 1).put("key", e.getKey()).put("type", type)
                        .put("value", String.valueOf(v)).build());
            }
            list.add(DeviceState.builder("configuration", 1).put("pid", c.factoryPid())
                    .put("name", c.name() == null ? "" : c.name()).putList("properties", props).build());
        }
        return DeviceState.builder(CONFIG_TYPE, 1).putList("configurations", list).build();
    }

    /**
     * Reads {@link #toState}'s form back.
     *
     * @throws IncompatibleStateException naming what is missing or not readable
     */
    static List<Arguments.Config> fromState(DeviceState s) {
        s.require(CONFIG_TYPE, 1);
        List<Arguments.Config> out = new ArrayList<>();
        for (Object o : s.getList("configurations")) {
            if (!(o instanceof DeviceState c)) throw new IncompatibleStateException(CONFIG_TYPE
                    + ": not a configuration");
            c.require("configuration", 1);
            Map<String, Object> props = new LinkedHashMap<>();
            for (Object p : c.getList("properties")) {
                if (!(p instanceof DeviceState ps)) throw new IncompatibleStateException(CONFIG_TYPE
                        + ": not a property");
                ps.require("property", 1);
                String key = ps.getString("key"), value = ps.getString("value");
                try {
                    props.put(key, switch (ps.getString("type")) {
                        case "string" -> value;
                        case "int" -> Integer.parseInt(value);
                        case "long" -> Long.parseLong(value);
                        case "boolean" -> Boolean.parseBoolean(value);
                        default -> throw new IncompatibleStateException(CONFIG_TYPE + ": property " + key
                                + " is of unknown type " + ps.getString("type"));
                    });
                } catch (NumberFormatException e) {
                    throw new IncompatibleStateException(CONFIG_TYPE + ": property " + key + " is not a number");
                }
            }
            String name = c.getString("name");
            out.add(new Arguments.Config(c.getString("pid"), name.isEmpty() ? null : name, props));
        }
        if (out.isEmpty() || out.getFirst().isFactory() || !out.getFirst().factoryPid().equals("vmm.vm"))
            throw new IncompatibleStateException(CONFIG_TYPE + ": the VM's configuration (vmm.vm) comes first");
        return out;
    }

    /**
     * Opens and checks a snapshot for {@code vmm run -r FILE [NAME]}: every checksum, the configuration, and a
     * provider for every device type; {@code name}, when given, replaces the VM's name. The caller closes the
     * channel.
     *
     * @throws Arguments.UsageException one line naming the file and what is wrong with it
     */
    static Restore open(Path file, String name, Set<String> providerTypes) throws Arguments.UsageException {
        return open(file, name, List.of(), providerTypes);
    }

    /**
     * {@link #open(Path, String, Set)}, then gives the devices of {@code replace} (from {@code -l} and {@code -s}:
     * a COM port by its port, a PCI device by its address) their new properties; the device must be in the
     * snapshot, of the same type.
     *
     * @throws Arguments.UsageException one line naming the file or the replacement and what is wrong
     */
    static Restore open(Path file, String name, List<Arguments.Config> replace, Set<String> providerTypes)
            throws Arguments.UsageException {
        String what = "-r " + file + ": ";
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new Arguments.UsageException(what + "no such file");
        } catch (IOException e) {
            throw new Arguments.UsageException(what + "cannot be read: " + e.getMessage());
        }
        try {
            if (Files.isDirectory(file)) throw new Arguments.UsageException(what + "is a directory");
            SnapshotReader r = SnapshotReader.open(ch);
            r.verify();
            List<Arguments.Config> configs = new ArrayList<>(fromState(VmSnapshot.config(r)));
            for (Section s : r.sections(SectionKind.DEVICE)) {
                if (!providerTypes.contains(s.type()))
                    throw new Arguments.UsageException(what + "device '" + s.name() + "' is of type '" + s.type()
                            + "', which no installed bundle provides (add it with --bundle)");
            }
            for (Arguments.Config device : replace) replaceDevice(configs, device, what);
            if (name != null) {
                Arguments.Config vm = configs.getFirst();
                Map<String, Object> props = new LinkedHashMap<>(vm.properties());
                props.put("name", name);
                configs.set(0, new Arguments.Config(vm.factoryPid(), null, props));
            }
            return new Restore(file, ch, r, List.copyOf(configs));
        } catch (SnapshotFormatException | IncompatibleStateException e) {
            close(ch);
            throw new Arguments.UsageException(what + oneLine(e.getMessage()));
        } catch (IOException e) {
            close(ch);
            throw new Arguments.UsageException(what + "cannot be read: " + oneLine(String.valueOf(e.getMessage())));
        } catch (Arguments.UsageException | RuntimeException e) {
            close(ch);
            throw e;
        }
    }

    /** Gives the snapshot's device at {@code r}'s port or address {@code r}'s properties, keeping its name. */
    private static void replaceDevice(List<Arguments.Config> configs, Arguments.Config r, String what)
            throws Arguments.UsageException {
        Object port = r.properties().get("port"), address = r.properties().get("address");
        String where = port != null ? String.valueOf(port) : "slot " + address;
        for (int i = 0; i < configs.size(); i++) {
            Arguments.Config c = configs.get(i);
            if (!"vmm.device".equals(c.factoryPid())) continue;
            boolean same = port != null ? port.equals(c.properties().get("port"))
                    : address.equals(c.properties().get("address"));
            if (!same) continue;
            Object type = c.properties().get("type");
            if (!String.valueOf(type).equals(String.valueOf(r.properties().get("type"))))
                throw new Arguments.UsageException(what + where + " is " + type + " in the snapshot, not "
                        + r.properties().get("type"));
            configs.set(i, new Arguments.Config(c.factoryPid(), c.name(), r.properties()));
            return;
        }
        throw new Arguments.UsageException(what + "the snapshot has no device at " + where
                + " (a restore replaces back ends; it adds no device)");
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*\\R\\s*", " ");
    }

    private static void close(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // reading only: nothing is lost
        }
    }
}
