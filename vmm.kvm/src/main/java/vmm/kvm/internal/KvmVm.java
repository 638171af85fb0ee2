package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static vmm.kvm.internal.abi.Kvm.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.kvm.KvmVendor;
import vmm.kvm.internal.abi.KvmStructs;
import vmm.kvm.internal.linux.Sys;
import vmm.kvm.internal.linux.SysException;
import vmm.core.device.DeviceState;

/** A KVM VM: its fd, memory slots, in-kernel irqchip and PIT, GSI routes, and eventfd bindings. */
public final class KvmVm implements VirtualMachine {
    /**
     * Where VT-x keeps the real-mode TSS (three pages) and identity page table
     * when it lacks unrestricted guest: just below the BIOS area, as QEMU does.
     * Harmless on AMD-V. Guest memory must leave them free.
     */
    static final long IDENTITY_MAP_ADDR = 0xFEFFC000L, TSS_ADDR = 0xFEFFD000L, RESERVED_END = 0xFF000000L;
    private static final long PAGE = 4096;

    private static final VarHandle SLOT = r("slot"), FLAGS = r("flags"), GPA = r("guest_phys_addr"),
            SIZE = r("memory_size"), UADDR = r("userspace_addr");

    private final KvmSystem kvm;
    private final KvmVendor vendor;
    private final GuestMemory memory;
    private final VmConfig config;
    private final int fd;
    private final List<MemorySegment> romCopies = new ArrayList<>();
    private final KvmIrqChip irqChip;
    private final GsiRoutes routes;
    private final Map<Integer, KvmVcpu> vcpus = new ConcurrentHashMap<>();
    /** Memory slots in use: the RAM regions' first, then those {@link #mapMemory} hands out. */
    private final java.util.BitSet usedSlots = new java.util.BitSet();
    private volatile boolean closed;
    private final byte[][] powerOnChips = new byte[3][];
    private byte[] powerOnPit;

    public KvmVm(KvmSystem kvm, KvmVendor vendor, GuestMemory memory, VmConfig config) {
        this.kvm = kvm;
        this.vendor = vendor;
        this.memory = memory;
        this.config = config;
        int maxVcpus = Math.max(kvm.checkExtension(KVM_CAP_MAX_VCPUS), kvm.checkExtension(KVM_CAP_NR_VCPUS));
        if (config.vcpus() > maxVcpus)
            throw new HypervisorException("the host's KVM allows " + maxVcpus + " vCPUs per VM, " + config.vcpus() + " asked for");
        checkReservedRange(memory);
        this.fd = createVm(kvm);
        try {
            Sys.ioctl(fd, KVM_SET_TSS_ADDR, TSS_ADDR, "KVM_SET_TSS_ADDR");
            if (kvm.checkExtension(KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
                try (Arena a = Arena.ofConfined()) {
                    Sys.ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, a.allocateFrom(ValueLayout.JAVA_LONG, IDENTITY_MAP_ADDR),
                            "KVM_SET_IDENTITY_MAP_ADDR");
                }
            }
            mapMemory();
            if (config.inKernelIrqchip()) {
                Sys.ioctl(fd, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment pit = a.allocate(KvmStructs.KVM_PIT_CONFIG);
                    // The dummy speaker port keeps port 0x61 in the kernel too.
                    pit.set(ValueLayout.JAVA_INT, 0, KVM_PIT_SPEAKER_DUMMY);
                    Sys.ioctl(fd, KVM_CREATE_PIT2, pit, "KVM_CREATE_PIT2");
                }
                capturePowerOnControllers();
                int maxRoutes = kvm.checkExtension(KVM_CAP_IRQ_ROUTING);
                this.routes = new GsiRoutes(maxRoutes);
                this.irqChip = new KvmIrqChip(fd, maxRoutes);
                pushRoutes(); // KVM's own table has IRQ 0 on IOAPIC input 0; ours follows the MADT
            } else {
                this.routes = null;
                this.irqChip = null;
            }
        } catch (RuntimeException e) {
            releaseAll();
            throw e instanceof HypervisorException ? e : new HypervisorException("creating a KVM VM: " + e.getMessage(), e);
        }
    }

    /** The PICs', IOAPIC's and PIT's state as KVM created them, for {@link #resetInterruptControllers()}. */
    private void capturePowerOnControllers() {
        try (Arena a = Arena.ofConfined()) {
            for (int chip = 0; chip < powerOnChips.length; chip++) {
                MemorySegment s = a.allocate(KVM_IRQCHIP_SIZE, 8);
                s.set(ValueLayout.JAVA_INT, 0, chip); // KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC
                Sys.ioctl(fd, KVM_GET_IRQCHIP, s, "KVM_GET_IRQCHIP");
                powerOnChips[chip] = s.toArray(ValueLayout.JAVA_BYTE);
            }
            MemorySegment pit = a.allocate(KVM_PIT_STATE2_SIZE, 8);
            Sys.ioctl(fd, KVM_GET_PIT2, pit, "KVM_GET_PIT2");
            powerOnPit = pit.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** The line a snapshot on KVM fails with: the vCPU and irqchip state of KVM are not saved yet. */
    static final String NO_SNAPSHOTS = "snapshots are not supported on the KVM back end yet (only on the software CPU,"
            + " accel=emu): its vCPU, LAPIC and irqchip state are not saved";

    @Override
    public DeviceState saveState() {
        throw new UnsupportedOperationException(NO_SNAPSHOTS);
    }

    @Override
    public void restoreState(DeviceState state) {
        throw new UnsupportedOperationException(NO_SNAPSHOTS);
    }

    @Override
    public void resetInterruptControllers() {
        if (irqChip == null) return;
        try (Arena a = Arena.ofConfined()) {
            for (byte[] chip : powerOnChips) {
                MemorySegment s = a.allocate(KVM_IRQCHIP_SIZE, 8);
                s.copyFrom(MemorySegment.ofArray(chip));
                Sys.ioctl(fd, KVM_SET_IRQCHIP, s, "KVM_SET_IRQCHIP");
            }
            MemorySegment pit = a.allocate(KVM_PIT_STATE2_SIZE, 8);
            pit.copyFrom(MemorySegment.ofArray(powerOnPit));
            Sys.ioctl(fd, KVM_SET_PIT2, pit, "KVM_SET_PIT2");
        } catch (SysException e) {
            throw new HypervisorException("resetting the in-kernel interrupt controllers: " + e.getMessage(), e);
        }
    }

    private static int createVm(KvmSystem kvm) {
        try {
            return kvm.createVm();
        } catch (SysException e) {
            throw new HypervisorException("KVM_CREATE_VM failed: " + e.getMessage(), e);
        }
    }

    private static VarHandle r(String name) {
        return KvmStructs.KVM_USERSPACE_MEMORY_REGION.varHandle(groupElement(name));
    }

    static void checkReservedRange(GuestMemory memory) {
        for (RamRegion r : memory.regions()) {
            if (r.guestBase() < RESERVED_END && r.guestEnd() > IDENTITY_MAP_ADDR)
                throw new HypervisorException(String.format(
                        "memory region %s [0x%x, 0x%x) overlaps [0x%x, 0x%x), which KVM keeps for the real-mode TSS "
                                + "and identity map", r.name(), r.guestBase(), r.guestEnd(), IDENTITY_MAP_ADDR, RESERVED_END));
        }
    }

    /** One slot per region: RAM writable, ROM with {@code KVM_MEM_READONLY}. */
    private void mapMemory() {
        List<RamRegion> regions = memory.regions();
        int slots = kvm.checkExtension(KVM_CAP_NR_MEMSLOTS);
        if (regions.size() > slots)
            throw new HypervisorException("guest memory has " + regions.size() + " regions, the host's KVM " + slots + " slots");
        boolean readonlyMem = kvm.checkExtension(KVM_CAP_READONLY_MEM) > 0;
        for (int i = 0; i < regions.size(); i++) {
            RamRegion r = regions.get(i);
            if (r.guestBase() % PAGE != 0)
                throw new HypervisorException(String.format("memory region %s starts at 0x%x, not on a 4 KiB page", r.name(), r.guestBase()));
            MemorySegment host = r.segment();
            long size = r.size();
            if (r.readOnly()) {
                if (!readonlyMem)
                    throw new HypervisorException("ROM region " + r.name() + " needs KVM_CAP_READONLY_MEM, which the host's KVM lacks");
                if (host.address() % PAGE != 0 || size % PAGE != 0) {
                    // A page-rounded slot over the ROM's own allocation would show the guest whatever follows it.
                    size = Sys.pageAlign(size);
                    MemorySegment copy = Sys.mmap(size, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
                    MemorySegment.copy(host, 0, copy, 0, r.size());
                    romCopies.add(copy);
                    host = copy;
                }
            } else if (host.address() % PAGE != 0 || size % PAGE != 0) {
                throw new HypervisorException(String.format(
                        "RAM region %s (%d bytes) is not whole 4 KiB pages on a page-aligned mapping", r.name(), size));
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(KvmStructs.KVM_USERSPACE_MEMORY_REGION);
                SLOT.set(s, 0L, i);
                FLAGS.set(s, 0L, r.readOnly() ? KVM_MEM_READONLY : 0);
                GPA.set(s, 0L, r.guestBase());
                SIZE.set(s, 0L, size);
                UADDR.set(s, 0L, host.address());
                Sys.ioctl(fd, KVM_SET_USER_MEMORY_REGION, s, "KVM_SET_USER_MEMORY_REGION(" + r.name() + ")");
            }
            usedSlots.set(i);
        }
    }

    @Override
    public Binding mapMemory(long gpa, MemorySegment host, boolean readOnly) {
        long size = host.byteSize();
        if (gpa < 0 || gpa % PAGE != 0 || size <= 0 || size % PAGE != 0 || host.address() % PAGE != 0 || gpa + size < 0)
            throw new IllegalArgumentException(String.format(
                    "device memory at 0x%x (%d bytes) is not whole 4 KiB pages at page-aligned addresses", gpa, size));
        for (RamRegion r : memory.regions()) {
            if (gpa < r.guestEnd() && r.guestBase() < gpa + size)
                throw new IllegalArgumentException(String.format("device memory at [0x%x, 0x%x) overlaps %s", gpa, gpa + size, r.name()));
        }
        if (readOnly && kvm.checkExtension(KVM_CAP_READONLY_MEM) <= 0)
            throw new HypervisorException("read-only device memory needs KVM_CAP_READONLY_MEM, which the host's KVM lacks");
        int slot;
        synchronized (usedSlots) {
            slot = usedSlots.nextClearBit(0);
            if (slot >= kvm.checkExtension(KVM_CAP_NR_MEMSLOTS))
                throw new HypervisorException("no free KVM memory slot for device memory at 0x" + Long.toHexString(gpa));
            usedSlots.set(slot);
        }
        try {
            setSlot(slot, readOnly ? KVM_MEM_READONLY : 0, gpa, size, host.address());
        } catch (SysException e) {
            synchronized (usedSlots) {
                usedSlots.clear(slot);
            }
            throw new HypervisorException(String.format("KVM_SET_USER_MEMORY_REGION slot %d at 0x%x: %s", slot, gpa, e.getMessage()), e);
        }
        String what = String.format("memory slot %d at 0x%x+0x%x", slot, gpa, size);
        return binding(what, () -> {
            // A slot of size 0 deletes it.
            if (!closed) setSlot(slot, 0, gpa, 0, 0);
            synchronized (usedSlots) {
                usedSlots.clear(slot);
            }
        });
    }

    private void setSlot(int slot, int flags, long gpa, long size, long uaddr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_USERSPACE_MEMORY_REGION);
            SLOT.set(s, 0L, slot);
            FLAGS.set(s, 0L, flags);
            GPA.set(s, 0L, gpa);
            SIZE.set(s, 0L, size);
            UADDR.set(s, 0L, uaddr);
            Sys.ioctl(fd, KVM_SET_USER_MEMORY_REGION, s, "KVM_SET_USER_MEMORY_REGION(slot " + slot + ")");
        }
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public VmConfig config() {
        return config;
    }

    @Override
    public IrqChip irqChip() {
        if (irqChip == null) throw new IllegalStateException("this VM was created without the in-kernel irqchip");
        return irqChip;
    }

    @Override
    public Vcpu createVcpu(int index) {
        if (index < 0 || index >= config.vcpus())
            throw new IllegalArgumentException("vCPU index " + index + " is outside [0, " + config.vcpus() + ")");
        synchronized (vcpus) {
            if (vcpus.containsKey(index)) throw new IllegalArgumentException("vCPU " + index + " already exists");
            KvmVcpu v;
            try {
                v = new KvmVcpu(fd, index, kvm.vcpuMmapSize(), vendor,
                        vendor.guestCpuid(kvm.supportedCpuid(), index, config.vcpus()));
            } catch (SysException e) {
                throw new HypervisorException("creating vCPU " + index + ": " + e.getMessage(), e);
            }
            vcpus.put(index, v);
            return v;
        }
    }

    @Override
    public EventFd createEventFd() {
        return new KvmEventFd();
    }

    @Override
    public Binding bindIoEvent(EventFd eventFd, AddressSpace space, long address, int size, OptionalLong datamatch) {
        if (size != 1 && size != 2 && size != 4 && size != 8)
            throw new IllegalArgumentException("an I/O event is 1, 2, 4 or 8 bytes wide, not " + size);
        long limit = space == AddressSpace.IO_PORT ? 0x10000 : 1L << 52;
        if (address < 0 || address > limit - size)
            throw new IllegalArgumentException(String.format("I/O event at 0x%x+%d leaves the %s space", address, size, space));
        int flags = (space == AddressSpace.IO_PORT ? KVM_IOEVENTFD_FLAG_PIO : 0)
                | (datamatch.isPresent() ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
        int efd = eventFd.fd();
        ioeventfd(efd, address, size, datamatch.orElse(0), flags);
        String what = String.format("ioeventfd %s 0x%x+%d", space, address, size);
        return binding(what, () -> ioeventfd(efd, address, size, datamatch.orElse(0), flags | KVM_IOEVENTFD_FLAG_DEASSIGN));
    }

    private void ioeventfd(int efd, long address, int size, long datamatch, int flags) {
        vmIoctl(KvmStructs.KVM_IOEVENTFD, KVM_IOEVENTFD, "KVM_IOEVENTFD", String.format("KVM_IOEVENTFD at 0x%x", address),
                "datamatch", datamatch, "addr", address, "len", size, "fd", efd, "flags", flags);
    }

    @Override
    public Binding bindIrqFd(EventFd eventFd, int gsi) {
        irqChip();
        int efd = eventFd.fd();
        irqfd(efd, gsi, 0);
        return binding("irqfd GSI " + gsi, () -> irqfd(efd, gsi, KVM_IRQFD_FLAG_DEASSIGN));
    }

    @Override
    public Binding bindIrqFd(EventFd eventFd, EventFd resample, int gsi) {
        irqChip();
        if (gsi < 0 || gsi >= KVM_IOAPIC_NUM_PINS)
            throw new IllegalArgumentException("a resampling irqfd needs an IOAPIC input (0.." + (KVM_IOAPIC_NUM_PINS - 1) + "), not GSI " + gsi);
        if (kvm.checkExtension(KVM_CAP_IRQFD_RESAMPLE) <= 0)
            throw new HypervisorException("the host's KVM has no KVM_CAP_IRQFD_RESAMPLE; level-triggered INTx through irqfd needs it");
        int efd = eventFd.fd(), rfd = resample.fd();
        irqfd(efd, gsi, KVM_IRQFD_FLAG_RESAMPLE, rfd);
        return binding("resampling irqfd GSI " + gsi, () -> irqfd(efd, gsi, KVM_IRQFD_FLAG_DEASSIGN, 0));
    }

    private void irqfd(int efd, int gsi, int flags) {
        irqfd(efd, gsi, flags, 0);
    }

    private void irqfd(int efd, int gsi, int flags, int resamplefd) {
        vmIoctl(KvmStructs.KVM_IRQFD, KVM_IRQFD, "KVM_IRQFD", "KVM_IRQFD for GSI " + gsi,
                "resamplefd", resamplefd, "fd", efd, "gsi", gsi, "flags", flags);
    }

    /**
     * One VM ioctl on a struct of {@code layout} whose named fields ({@code name, value} pairs, each value of its
     * field's type) are set and the rest zero; a failure is a {@link HypervisorException} that starts with
     * {@code failure}.
     */
    private void vmIoctl(java.lang.foreign.StructLayout layout, long request, String name, String failure,
                         Object... fields) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(layout);
            for (int i = 0; i < fields.length; i += 2)
                layout.varHandle(groupElement((String) fields[i])).set(s, 0L, fields[i + 1]);
            Sys.ioctl(fd, request, s, name);
        } catch (SysException e) {
            throw new HypervisorException(failure + ": " + e.getMessage(), e);
        }
    }

    /** GSIs handed out by {@link #allocateMsiGsi}; guarded by {@code routes}. */
    private final java.util.BitSet allocatedGsis = new java.util.BitSet();

    @Override
    public int allocateMsiGsi() {
        irqChip();
        synchronized (routes) {
            int gsi = allocatedGsis.nextClearBit(KVM_IOAPIC_NUM_PINS);
            if (gsi >= routes.maxRoutes() || GsiRoutes.defaultRoutes().size() + allocatedGsis.cardinality() >= routes.maxRoutes())
                throw new HypervisorException("the host's GSI routing table (" + routes.maxRoutes() + " entries) is full");
            allocatedGsis.set(gsi);
            return gsi;
        }
    }

    @Override
    public void releaseMsiGsi(int gsi) {
        irqChip();
        synchronized (routes) {
            if (gsi < KVM_IOAPIC_NUM_PINS || !allocatedGsis.get(gsi)) return;
            allocatedGsis.clear(gsi);
            routes.remove(gsi);
            pushRoutes();
        }
    }

    private void pushRoutes() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(routes.encodedSize(), 8);
            routes.encode(buf);
            Sys.ioctl(fd, KVM_SET_GSI_ROUTING, buf, "KVM_SET_GSI_ROUTING");
        } catch (SysException e) {
            throw new HypervisorException("KVM_SET_GSI_ROUTING: " + e.getMessage(), e);
        }
    }

    @Override
    public void routeMsi(int gsi, MsiMessage message) {
        irqChip();
        synchronized (routes) {
            routes.routeMsi(gsi, message);
            pushRoutes();
        }
    }

    private static Binding binding(String what, Runnable undo) {
        AtomicBoolean done = new AtomicBoolean();
        return new Binding() {
            @Override
            public void close() {
                if (done.compareAndSet(false, true)) undo.run();
            }

            @Override
            public String toString() {
                return what;
            }
        };
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        releaseAll();
    }

    private void releaseAll() {
        for (KvmVcpu v : vcpus.values()) v.close();
        vcpus.clear();
        if (fd > 0) Sys.close(fd);
        // KVM drops its references to the pages with the VM fd, so the copies can go now.
        for (MemorySegment copy : romCopies) Sys.munmap(copy);
        romCopies.clear();
    }
}
