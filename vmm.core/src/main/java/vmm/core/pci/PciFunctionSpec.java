package vmm.core.pci;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What a device says about one PCI function: the identity registers of the
 * type 0 header, its BARs, interrupt pin, capabilities and option ROM. The
 * bus builds the configuration space from this; the device never touches
 * header bytes itself. Immutable; two specs are equal when a guest could not
 * tell the functions apart, which is what a hot swap requires of the old and
 * new implementation.
 */
public final class PciFunctionSpec {
    private final int vendorId, deviceId, classCode, revision, subsystemVendorId, subsystemId, interruptPin;
    private final List<BarSpec> bars;
    private final MsiSpec msi;
    private final MsiXSpec msix;
    private final List<Capability> capabilities;
    private final byte[] rom;
    private final DeviceRegisters deviceRegisters;

    /**
     * Device-specific registers in configuration space outside any
     * capability (a chipset's PAM or PIRQ registers, a PM base address):
     * {@code length} bytes from {@code offset}, answered by {@code handler}
     * as a capability body is. They must lie in 0x40..0xff and not overlap
     * the capabilities, which are laid out from 0x40.
     */
    public record DeviceRegisters(int offset, int length, CapabilityHandler handler) {
        public DeviceRegisters {
            if (offset < 0x40 || length < 1 || offset + length > 0x100)
                throw new IllegalArgumentException(String.format("device registers [0x%x, +%d) must lie in 0x40..0xff", offset, length));
            java.util.Objects.requireNonNull(handler, "handler");
        }
    }

    private PciFunctionSpec(Builder b) {
        vendorId = b.vendorId;
        deviceId = b.deviceId;
        classCode = b.classCode;
        revision = b.revision;
        subsystemVendorId = b.subsystemVendorId;
        subsystemId = b.subsystemId;
        interruptPin = b.interruptPin;
        bars = List.copyOf(b.bars);
        msi = b.msi;
        msix = b.msix;
        capabilities = List.copyOf(b.capabilities);
        rom = b.rom;
        deviceRegisters = b.deviceRegisters;
    }

    public static Builder builder(int vendorId, int deviceId) {
        return new Builder(vendorId, deviceId);
    }

    public int vendorId() { return vendorId; }
    public int deviceId() { return deviceId; }
    /** Base class, subclass and programming interface as one 24-bit value. */
    public int classCode() { return classCode; }
    public int revision() { return revision; }
    public int subsystemVendorId() { return subsystemVendorId; }
    public int subsystemId() { return subsystemId; }
    /** 0 for none, 1..4 for INTA#..INTD#. */
    public int interruptPin() { return interruptPin; }
    public List<BarSpec> bars() { return bars; }
    /** The MSI capability, or null. */
    public MsiSpec msi() { return msi; }
    /** The MSI-X capability, or null. */
    public MsiXSpec msix() { return msix; }
    public List<Capability> capabilities() { return capabilities; }
    /** The device-specific register window, or null. */
    public DeviceRegisters deviceRegisters() { return deviceRegisters; }
    /** The expansion ROM image, or null. */
    public byte[] rom() { return rom == null ? null : rom.clone(); }

    /** The BAR with this index, or null. */
    public BarSpec bar(int index) {
        for (BarSpec b : bars) if (b.index() == index) return b;
        return null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PciFunctionSpec s && s.vendorId == vendorId && s.deviceId == deviceId
                && s.classCode == classCode && s.revision == revision && s.subsystemVendorId == subsystemVendorId
                && s.subsystemId == subsystemId && s.interruptPin == interruptPin && s.bars.equals(bars)
                && Objects.equals(s.msi, msi) && Objects.equals(s.msix, msix) && s.capabilities.equals(capabilities)
                && Arrays.equals(s.rom, rom);
    }

    @Override
    public int hashCode() {
        return Objects.hash(vendorId, deviceId, classCode, bars);
    }

    @Override
    public String toString() {
        return String.format("PciFunctionSpec[%04x:%04x class %06x bars=%s]", vendorId, deviceId, classCode, bars);
    }

    /** Collects a spec; {@link #build()} checks that BARs, MSI-X placement and capabilities fit together. */
    public static final class Builder {
        private final int vendorId, deviceId;
        private int classCode, revision, subsystemVendorId, subsystemId, interruptPin;
        private final List<BarSpec> bars = new ArrayList<>();
        private MsiSpec msi;
        private MsiXSpec msix;
        private final List<Capability> capabilities = new ArrayList<>();
        private byte[] rom;
        private DeviceRegisters deviceRegisters;

        private Builder(int vendorId, int deviceId) {
            this.vendorId = u16("vendor ID", vendorId);
            this.deviceId = u16("device ID", deviceId);
            if (vendorId == 0xffff) throw new IllegalArgumentException("vendor ID 0xffff means 'no device'");
        }

        public Builder classCode(int base, int sub, int progIf) {
            classCode = (u8("class", base) << 16) | (u8("subclass", sub) << 8) | u8("prog-if", progIf);
            return this;
        }

        public Builder revision(int r) { revision = u8("revision", r); return this; }

        public Builder subsystem(int vendor, int id) {
            subsystemVendorId = u16("subsystem vendor", vendor);
            subsystemId = u16("subsystem ID", id);
            return this;
        }

        /** 0 for none, 1..4 for INTA#..INTD#. */
        public Builder interruptPin(int pin) {
            if (pin < 0 || pin > 4) throw new IllegalArgumentException("interrupt pin must be 0..4, was " + pin);
            interruptPin = pin;
            return this;
        }

        public Builder bar(BarSpec bar) { bars.add(bar); return this; }
        public Builder msi(MsiSpec m) { msi = m; return this; }
        public Builder msix(MsiXSpec m) { msix = m; return this; }
        public Builder capability(Capability c) { capabilities.add(c); return this; }
        public Builder rom(byte[] image) { rom = image == null ? null : image.clone(); return this; }
        public Builder deviceRegisters(int offset, int length, CapabilityHandler handler) {
            deviceRegisters = new DeviceRegisters(offset, length, handler);
            return this;
        }

        public PciFunctionSpec build() {
            boolean[] used = new boolean[6];
            for (BarSpec b : bars) {
                int n = b.kind() == BarKind.MEMORY64 ? 2 : 1;
                for (int i = b.index(); i < b.index() + n; i++) {
                    if (used[i]) throw new IllegalArgumentException("BAR " + i + " defined twice");
                    used[i] = true;
                }
            }
            if (msix != null) {
                checkInBar("MSI-X table", msix.tableBar(), msix.tableOffset(), msix.tableLength());
                checkInBar("MSI-X PBA", msix.pbaBar(), msix.pbaOffset(), msix.pbaLength());
            }
            if (rom != null && rom.length == 0) throw new IllegalArgumentException("empty option ROM");
            return new PciFunctionSpec(this);
        }

        private void checkInBar(String what, int index, long off, long len) {
            BarSpec b = bars.stream().filter(x -> x.index() == index).findFirst().orElseThrow(
                    () -> new IllegalArgumentException(what + " names BAR " + index + ", which is not defined"));
            if (b.kind() == BarKind.IO) throw new IllegalArgumentException(what + " must be in a memory BAR");
            if (off < 0 || off + len > b.size())
                throw new IllegalArgumentException(what + " does not fit in BAR " + index);
        }

        private static int u16(String what, int v) {
            if (v < 0 || v > 0xffff) throw new IllegalArgumentException(what + " must be 16 bits, was " + v);
            return v;
        }

        private static int u8(String what, int v) {
            if (v < 0 || v > 0xff) throw new IllegalArgumentException(what + " must be 8 bits, was " + v);
            return v;
        }
    }
}
