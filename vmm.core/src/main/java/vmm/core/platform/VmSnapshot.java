package vmm.core.platform;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VmRunner;
import vmm.core.machine.DeviceInstance;
import vmm.core.memory.RamRegion;
import vmm.core.pci.PciConfigState;
import vmm.core.snapshot.RamExtent;
import vmm.core.snapshot.Section;
import vmm.core.snapshot.SectionKind;
import vmm.core.snapshot.SnapshotReader;
import vmm.core.snapshot.SnapshotWriter;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * A snapshot of a whole {@link PcMachine}, taken and restored: the VM's configuration (as its caller gives it),
 * guest RAM (zero pages left out), every vCPU, the platform (chipset, the PCI functions' configuration, the
 * hypervisor's interrupt controllers and clock) and every device instance's {@link DeviceState}, each in its
 * own section of a {@link vmm.core.snapshot} file.
 *
 * <p>Taking one pauses the vCPUs, then holds every device (each finishes the work it took, as before a swap, and
 * takes no more), so that memory, interrupt lines and device state agree; it writes the file beside its final
 * name, forces it to disk and renames it, so a crash never leaves a half-written file under that name; then
 * the devices and vCPUs go on, or with {@code stop} the machine stops.
 *
 * <p>Restoring puts the state into a machine made from the same configuration, before its vCPUs first run:
 * memory, devices, chipset and PCI configuration, then the back end's clock and interrupt controllers, then
 * the vCPUs, then each virtio transport (status, features, queue addresses, vectors and ring indices), whose
 * device, active again, takes the work the guest offered meanwhile.
 */
public final class VmSnapshot {
    private static final System.Logger LOG = System.getLogger("vmm.platform");

    /** The platform section holding the VM's configuration, as the caller of {@link #write} gave it. */
    public static final String CONFIG = "config";
    /** The platform sections of the chipset, the PCI functions and the hypervisor's VM-wide state. */
    public static final String CHIPSET = "chipset", PCI = "pci", HYPERVISOR = "hypervisor";
    /** The prefix of the platform section of a virtio device's transport: {@code virtio:INSTANCE}. */
    public static final String VIRTIO = "virtio:";
    /** The state type of the {@link #PCI} section. */
    public static final String PCI_TYPE = "vmm.pci.functions";

    /** What a snapshot wrote: its size, the RAM pages it holds, the time the guest was paused for it. */
    public record Written(Path file, long bytes, long ramBytes, long pausedNanos, boolean stopped) {
        /** One line for the shell. */
        public String describe() {
            return String.format("%s: %,d bytes (%,d of RAM written), guest paused %d ms%s", file, bytes, ramBytes,
                    pausedNanos / 1_000_000, stopped ? "; the VM is stopped" : "");
        }
    }

    private VmSnapshot() {
    }

    /**
     * Takes a snapshot of {@code machine} into {@code file}.
     *
     * @param config    the VM's configuration, for a restore to build the same machine; stored as given
     * @param writtenBy the VMM's name and version, for the file's header
     * @param stop      stop the machine once the file is on disk (bhyve's suspend), instead of resuming it
     * @throws IllegalStateException         when the machine is not running or paused
     * @throws UnsupportedOperationException when the hypervisor back end cannot save its state (one line: why)
     * @throws IOException                   when the file cannot be written; the machine goes on then
     */
    public static Written write(PcMachine machine, Path file, DeviceState config, String writtenBy, boolean stop)
            throws IOException, InterruptedException {
        long paused = System.nanoTime();
        // After a guest reset under way, never in its middle; one the guest asks for meanwhile waits for the file.
        VmRunner.State before = machine.pauseForSnapshot();
        List<DeviceInstance> held = new ArrayList<>();
        boolean written = false;
        try {
            List<DeviceState> vcpus = new ArrayList<>();
            for (Vcpu v : machine.vcpus()) vcpus.add(v.saveState());
            Map<DeviceInstance, DeviceState> devices = new LinkedHashMap<>();
            for (DeviceInstance d : machine.machine().instances()) {
                devices.put(d, d.quiesce());
                held.add(d);
            }
            // Devices are held: interrupt lines, memory and the chips no longer change, no chain is in flight.
            Map<DeviceInstance, DeviceState> transports = new LinkedHashMap<>();
            for (DeviceInstance d : devices.keySet())
                if (d.transport() != null) transports.put(d, d.transport().saveState());
            // Once, with the devices held: no line moves while the controllers are read. A back end that cannot
            // save its state refuses here; the devices and vCPUs then go on (finally) and no file is written.
            DeviceState hypervisor = machine.vm().saveState();
            DeviceState chipset = machine.platform().saveState();
            DeviceState pci = pciState(machine.machine().pci().saveConfig());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            long bytes, ram = 0;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                SnapshotWriter w = SnapshotWriter.create(ch, writtenBy, Instant.now());
                w.platform(CONFIG, config);
                for (RamRegion r : machine.machine().memory().regions()) {
                    if (r.readOnly()) continue; // the boot ROM comes from the configuration
                    long at = w.bytesWritten();
                    w.memory(r.name(), r.guestBase(), r.segment());
                    ram += w.bytesWritten() - at;
                }
                for (int i = 0; i < vcpus.size(); i++) w.vcpu(i, vcpus.get(i));
                w.platform(CHIPSET, chipset);
                w.platform(PCI, pci);
                w.platform(HYPERVISOR, hypervisor);
                for (Map.Entry<DeviceInstance, DeviceState> e : transports.entrySet())
                    w.platform(VIRTIO + e.getKey().id(), e.getValue());
                for (Map.Entry<DeviceInstance, DeviceState> e : devices.entrySet())
                    w.device(e.getKey().id(), e.getKey().type(), e.getValue());
                bytes = w.finish();
                ch.force(true);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            written = true;
            LOG.log(Level.INFO, "snapshot written to {0}: {1} bytes", file, bytes);
            return new Written(file, bytes, ram, System.nanoTime() - paused, stop);
        } finally {
            boolean ending = written && stop;
            try {
                if (ending) machine.stop();
                for (DeviceInstance d : held) d.unquiesce();
                if (!ending && before == VmRunner.State.RUNNING) machine.resume();
            } finally {
                machine.endSnapshotPause();
            }
        }
    }

    private static DeviceState pciState(List<PciConfigState> functions) {
        List<DeviceState> list = new ArrayList<>();
        for (PciConfigState f : functions) list.add(f.toDeviceState());
        return DeviceState.builder(PCI_TYPE, 1).putList("functions", list).build();
    }

    /**
     * The configuration section of a snapshot file.
     *
     * @throws IncompatibleStateException when the file has none
     */
    public static DeviceState config(SnapshotReader file) throws IOException {
        Section s = file.find(SectionKind.PLATFORM, CONFIG)
                .orElseThrow(() -> new IncompatibleStateException("the snapshot has no configuration section"));
        return file.readState(s);
    }

    /**
     * Puts a snapshot into {@code machine}, made from the snapshot's configuration and not started yet.
     *
     * @throws IncompatibleStateException when the file and the machine do not match (a region, vCPU or device
     *                                    missing on either side, another device type) or a state cannot be read;
     *                                    the machine is then not fit to run
     * @throws vmm.core.snapshot.SnapshotFormatException when a section's payload is corrupt
     * @throws IllegalStateException      when the machine has been started
     */
    public static void restore(PcMachine machine, SnapshotReader file) throws IOException {
        if (machine.state() != VmRunner.State.NEW)
            throw new IllegalStateException("a snapshot is restored before the VM starts");
        Map<String, RamRegion> ram = new HashMap<>();
        for (RamRegion r : machine.machine().memory().regions()) if (!r.readOnly()) ram.put(r.name(), r);
        List<Section> memory = file.sections(SectionKind.MEMORY);
        for (Section s : memory) {
            RamRegion r = ram.get(s.name());
            RamExtent e = file.ramExtent(s);
            if (r == null || r.guestBase() != e.guestBase() || r.size() != e.size())
                throw new IncompatibleStateException("the snapshot's RAM region '" + s.name() + "' (0x"
                        + Long.toHexString(e.guestBase()) + ", " + e.size() + " bytes) is not this machine's");
        }
        if (memory.size() != ram.size())
            throw new IncompatibleStateException("the snapshot has " + memory.size() + " RAM regions; this machine has "
                    + ram.size());
        List<Vcpu> vcpus = machine.vcpus();
        if (file.sections(SectionKind.VCPU).size() != vcpus.size())
            throw new IncompatibleStateException("the snapshot has " + file.sections(SectionKind.VCPU).size()
                    + " vCPUs; this machine has " + vcpus.size());
        Map<String, DeviceInstance> instances = new HashMap<>();
        for (DeviceInstance d : machine.machine().instances()) instances.put(d.id(), d);
        for (Section s : file.sections(SectionKind.DEVICE)) {
            DeviceInstance d = instances.get(s.name());
            if (d == null)
                throw new IncompatibleStateException("the snapshot has device '" + s.name() + "' (" + s.type()
                        + "), which this machine does not have");
            if (!d.type().equals(s.type()))
                throw new IncompatibleStateException("device '" + s.name() + "' is " + d.type()
                        + " here, but " + s.type() + " in the snapshot");
        }
        for (Section s : memory) file.restoreMemory(s, ram.get(s.name()).segment());
        for (Section s : file.sections(SectionKind.DEVICE)) instances.get(s.name()).restore(file.readState(s));
        machine.machine().pci().restoreConfig(pciFunctions(file.readState(required(file, PCI))));
        machine.platform().restoreState(file.readState(required(file, CHIPSET)));
        machine.vm().restoreState(file.readState(required(file, HYPERVISOR)));
        for (int i = 0; i < vcpus.size(); i++) {
            int index = i;
            Section s = file.find(SectionKind.VCPU, Integer.toString(i)).orElseThrow(
                    () -> new IncompatibleStateException("the snapshot has no state of vCPU " + index));
            vcpus.get(i).restoreState(file.readState(s));
        }
        // Last: an active virtio device takes work as soon as it is activated, and its interrupts must reach the
        // restored controllers, not be overwritten by them.
        for (Section s : file.sections(SectionKind.PLATFORM)) {
            if (!s.name().startsWith(VIRTIO)) continue;
            String id = s.name().substring(VIRTIO.length());
            DeviceInstance d = instances.get(id);
            if (d == null || d.transport() == null)
                throw new IncompatibleStateException("the snapshot has the virtio transport of '" + id
                        + "', which this machine does not have");
            d.transport().restoreState(file.readState(s));
        }
        LOG.log(Level.INFO, "restored from a snapshot: {0} RAM regions, {1} vCPUs, {2} devices", memory.size(),
                vcpus.size(), file.sections(SectionKind.DEVICE).size());
    }

    private static Section required(SnapshotReader file, String name) {
        return file.find(SectionKind.PLATFORM, name)
                .orElseThrow(() -> new IncompatibleStateException("the snapshot has no " + name + " section"));
    }

    private static List<PciConfigState> pciFunctions(DeviceState s) {
        s.require(PCI_TYPE, 1);
        List<PciConfigState> out = new ArrayList<>();
        for (Object o : s.getList("functions")) {
            if (!(o instanceof DeviceState d))
                throw new IncompatibleStateException(PCI_TYPE + " state: a function is not a state");
            out.add(PciConfigState.from(d));
        }
        return out;
    }
}
