package vmm.core.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import vmm.core.hypervisor.DescriptorTable;
import vmm.core.memory.GuestMemory;

/**
 * Loads a Linux kernel into guest memory the way a boot loader would, so the
 * VMM can start it without firmware:
 * <ul>
 * <li>an ELF {@code vmlinux} through its PVH entry: PT_LOAD segments at their
 * physical addresses, an {@code hvm_start_info} (version 1, with the memory
 * map, the command line, the initrd as module 0 and the RSDP), entered in
 * flat 32-bit protected mode with EBX pointing at it;</li>
 * <li>a bzImage through the 64-bit boot protocol (2.12+): the protected-mode
 * kernel at its {@code pref_address}, the zero page with the setup header,
 * the e820 map, {@code cmd_line_ptr}, the initrd and
 * {@code acpi_rsdp_addr}, entered at load address + 0x200 in long mode on
 * identity page tables, RSI pointing at the zero page.</li>
 * </ul>
 * The initrd goes as high as it may below 4 GiB (and the kernel's
 * {@code initrd_addr_max}), above the kernel. Every check happens before
 * guest memory is written.
 */
public final class LinuxBoot {
    /** The boot GDT: null, unused, {@code __BOOT_CS}, {@code __BOOT_DS}. */
    public static final long GDT = 0x500;
    /** PVH's {@code hvm_start_info}, its memory map right after it, and its module list. */
    public static final long START_INFO = 0x6000, START_INFO_MEMMAP = START_INFO + 0x40, START_INFO_MODLIST = 0x6f00;
    /** The zero page ({@code struct boot_params}) of the 64-bit boot protocol. */
    public static final long ZERO_PAGE = 0x7000;
    /** Identity page tables for the 64-bit entry: PML4, PDPT and four page directories of 2 MiB pages (4 GiB). */
    public static final long PML4 = 0x9000, PDPT = 0xa000, PD = 0xb000;
    /** The kernel command line, NUL-terminated. */
    public static final long CMDLINE = 0x20000;
    /** The most command line this layout holds (boot protocols have their own, smaller limits). */
    public static final int CMDLINE_MAX = 0x10000 - 1;

    /** {@code hvm_start_info} (xen/include/public/arch-x86/hvm/start_info.h). */
    public static final int HVM_START_MAGIC_VALUE = 0x336e_c578;
    static final int SI_MAGIC = 0, SI_VERSION = 4, SI_FLAGS = 8, SI_NR_MODULES = 12, SI_MODLIST_PADDR = 16,
            SI_CMDLINE_PADDR = 24, SI_RSDP_PADDR = 32, SI_MEMMAP_PADDR = 40, SI_MEMMAP_ENTRIES = 48, SI_SIZE = 56;
    static final int MEMMAP_ENTRY_SIZE = 24, MODLIST_ENTRY_SIZE = 32;
    static final int MAX_PVH_MEMMAP = (int) ((START_INFO_MODLIST - START_INFO_MEMMAP) / MEMMAP_ENTRY_SIZE);

    /** {@code struct boot_params} offsets (Documentation/arch/x86/zero-page.rst, boot.rst). */
    static final int BP_ACPI_RSDP_ADDR = 0x070, BP_EXT_RAMDISK_IMAGE = 0x0c0, BP_EXT_RAMDISK_SIZE = 0x0c4,
            BP_EXT_CMD_LINE_PTR = 0x0c8, BP_E820_ENTRIES = 0x1e8, BP_HDR = 0x1f1, BP_TYPE_OF_LOADER = 0x210,
            BP_LOADFLAGS = 0x211, BP_RAMDISK_IMAGE = 0x218, BP_RAMDISK_SIZE = 0x21c, BP_CMD_LINE_PTR = 0x228,
            BP_E820_TABLE = 0x2d0, E820_MAX_ENTRIES_ZEROPAGE = 128, E820_ENTRY_SIZE = 20, ZERO_PAGE_SIZE = 4096;
    /** type_of_loader: "undefined" (a loader without an assigned ID). */
    static final int LOADER_UNDEFINED = 0xff;
    /** loadflags bit 7: the loader set heap_end_ptr; bit 0: loaded high. */
    static final int CAN_USE_HEAP = 0x80;
    /** The 64-bit entry is 0x200 past the protected-mode kernel's start. */
    static final int STARTUP_64_OFFSET = 0x200;
    static final long PAGE = 4096, FOUR_GIB = 1L << 32;
    static final long PRESENT_WRITABLE = 0x3, LARGE_PAGE = 0x80;

    private LinuxBoot() {}

    /**
     * Where everything goes, decided before anything is written.
     *
     * @param initrdAddress where the initrd starts (0 without one)
     */
    record Plan(KernelImage kernel, long initrdAddress, long initrdSize, byte[] cmdline, List<MemoryRange> memoryMap) {}

    /**
     * Checks that {@code kernel} (and {@code initrd}) can be booted with
     * {@code cmdline} in a guest with {@code memoryMap}, without loading
     * anything.
     *
     * @param initrd null for none
     * @throws IllegalArgumentException naming the file and what is wrong: missing, unreadable, truncated, not
     *                                  a bzImage (magic, protocol version, no 64-bit entry) nor an ELF with a PVH
     *                                  note, a command line too long, a kernel or initrd that does not fit in RAM
     */
    public static void check(Path kernel, Path initrd, String cmdline, List<MemoryRange> memoryMap) {
        plan(KernelImage.parse(kernel.toString(), read(kernel, "kernel")), initrd, initrd == null ? 0 : size(initrd),
                cmdline, memoryMap);
    }

    /**
     * Loads {@code kernel}, {@code initrd} and {@code cmdline} into {@code memory}
     * with the boot information for a guest whose memory map is {@code memoryMap},
     * and returns the state the boot vCPU must start in.
     *
     * @param initrd   null for none
     * @param rsdp     the guest-physical address of the ACPI RSDP, or 0 when there are no ACPI tables
     * @throws IllegalArgumentException as {@link #check}; then nothing was written
     */
    public static KernelEntry load(GuestMemory memory, List<MemoryRange> memoryMap, Path kernel, Path initrd,
                                   String cmdline, long rsdp) {
        KernelImage image = KernelImage.parse(kernel.toString(), read(kernel, "kernel"));
        byte[] initrdBytes = initrd == null ? null : read(initrd, "initrd");
        Plan plan = plan(image, initrd, initrdBytes == null ? 0 : initrdBytes.length, cmdline, memoryMap);
        return write(memory, plan, initrdBytes, rsdp);
    }

    /** {@link #load} from bytes already read: what the tests and {@link #load} share. */
    static KernelEntry load(GuestMemory memory, List<MemoryRange> memoryMap, String kernelName, byte[] kernel,
                            byte[] initrd, String cmdline, long rsdp) {
        KernelImage image = KernelImage.parse(kernelName, kernel);
        Plan plan = plan(image, initrd == null ? null : Path.of("initrd"), initrd == null ? 0 : initrd.length, cmdline, memoryMap);
        return write(memory, plan, initrd, rsdp);
    }

    static Plan plan(KernelImage kernel, Path initrd, long initrdSize, String cmdline, List<MemoryRange> memoryMap) {
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        if (cmdline.indexOf('\0') >= 0) throw new IllegalArgumentException("kernel command line contains a NUL character");
        int limit = kernel instanceof KernelImage.BzImage bz && bz.cmdlineSize() > 0 ? Math.min(bz.cmdlineSize(), CMDLINE_MAX) : CMDLINE_MAX;
        if (cmd.length > limit)
            throw new IllegalArgumentException("kernel command line is " + cmd.length + " bytes; " + kernel.name() + " takes at most " + limit);
        // The kernel must lie inside one RAM range (the one from 1 MiB up).
        MemoryRange low = memoryMap.stream().filter(r -> r.isRam() && r.address() <= 0x10_0000 && r.end() > 0x10_0000)
                .findFirst().orElseThrow(() -> new IllegalArgumentException("the memory map has no RAM at 1 MiB"));
        long kernelStart = kernel instanceof KernelImage.BzImage bz ? bz.loadAddress()
                : ((KernelImage.PvhElf) kernel).segments().stream().mapToLong(KernelImage.LoadSegment::physAddr).min().orElseThrow();
        if (kernelStart < low.address() || kernel.end() > low.end())
            throw new IllegalArgumentException(String.format("%s does not fit in RAM: it needs 0x%x..0x%x, RAM is 0x%x..0x%x",
                    kernel.name(), kernelStart, kernel.end(), low.address(), low.end()));
        long initrdAt = 0;
        if (initrd != null) {
            long top = Math.min(low.end(), FOUR_GIB);
            if (kernel instanceof KernelImage.BzImage bz && bz.initrdAddrMax() > 0) top = Math.min(top, bz.initrdAddrMax() + 1);
            initrdAt = (top - initrdSize) & -PAGE;
            long floor = (kernel.end() + PAGE - 1) & -PAGE;
            if (initrdSize == 0 || initrdAt < floor)
                throw new IllegalArgumentException(String.format("%s: %s (%d bytes) does not fit in RAM between the kernel's end 0x%x"
                        + " and 0x%x", initrd, initrdSize == 0 ? "empty initrd" : "initrd", initrdSize, floor, top));
        }
        if (kernel instanceof KernelImage.BzImage && memoryMap.size() > E820_MAX_ENTRIES_ZEROPAGE
                || kernel instanceof KernelImage.PvhElf && memoryMap.size() > MAX_PVH_MEMMAP)
            throw new IllegalArgumentException("the memory map has too many entries: " + memoryMap.size());
        return new Plan(kernel, initrdAt, initrdSize, cmd, List.copyOf(memoryMap));
    }

    private static KernelEntry write(GuestMemory memory, Plan plan, byte[] initrd, long rsdp) {
        memory.fill(CMDLINE, plan.cmdline().length + 1, (byte) 0);
        memory.write(CMDLINE, plan.cmdline(), 0, plan.cmdline().length);
        if (initrd != null) memory.write(plan.initrdAddress(), initrd, 0, initrd.length);
        DescriptorTable gdt = new DescriptorTable(GDT, 4 * 8 - 1);
        memory.writeU64(GDT, 0);
        memory.writeU64(GDT + 8, 0);
        memory.writeU64(GDT + KernelEntry.BOOT_DS, 0x00CF_9300_0000_FFFFL); // flat 4 GiB data, read/write, accessed
        return switch (plan.kernel()) {
            case KernelImage.PvhElf elf -> {
                memory.writeU64(GDT + KernelEntry.BOOT_CS, 0x00CF_9B00_0000_FFFFL); // flat 4 GiB 32-bit code
                for (KernelImage.LoadSegment s : elf.segments()) {
                    memory.write(s.physAddr(), elf.bytes(), (int) s.fileOffset(), (int) s.fileSize());
                    if (s.memSize() > s.fileSize()) memory.fill(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
                }
                writeStartInfo(memory, plan, rsdp);
                yield new KernelEntry(KernelEntry.Mode.PVH_32, elf.entry(), START_INFO, gdt, 0);
            }
            case KernelImage.BzImage bz -> {
                memory.writeU64(GDT + KernelEntry.BOOT_CS, 0x00AF_9B00_0000_FFFFL); // 64-bit code: L set, D clear
                memory.write(bz.loadAddress(), bz.bytes(), bz.kernelOffset(), (int) bz.kernelLength());
                writeZeroPage(memory, plan, bz, rsdp);
                writeIdentityPageTables(memory);
                yield new KernelEntry(KernelEntry.Mode.LONG_64, bz.loadAddress() + STARTUP_64_OFFSET, ZERO_PAGE, gdt, PML4);
            }
        };
    }

    private static void writeStartInfo(GuestMemory m, Plan plan, long rsdp) {
        m.fill(START_INFO, PAGE, (byte) 0);
        m.writeU32(START_INFO + SI_MAGIC, HVM_START_MAGIC_VALUE);
        m.writeU32(START_INFO + SI_VERSION, 1); // version 1 has the memory map
        m.writeU32(START_INFO + SI_FLAGS, 0);
        m.writeU64(START_INFO + SI_CMDLINE_PADDR, CMDLINE);
        m.writeU64(START_INFO + SI_RSDP_PADDR, rsdp);
        m.writeU64(START_INFO + SI_MEMMAP_PADDR, START_INFO_MEMMAP);
        m.writeU32(START_INFO + SI_MEMMAP_ENTRIES, plan.memoryMap().size());
        long e = START_INFO_MEMMAP;
        for (MemoryRange r : plan.memoryMap()) {
            m.writeU64(e, r.address());
            m.writeU64(e + 8, r.length());
            m.writeU32(e + 16, r.type());
            e += MEMMAP_ENTRY_SIZE;
        }
        if (plan.initrdSize() > 0) {
            // Linux takes module 0 as its initrd.
            m.writeU32(START_INFO + SI_NR_MODULES, 1);
            m.writeU64(START_INFO + SI_MODLIST_PADDR, START_INFO_MODLIST);
            m.writeU64(START_INFO_MODLIST, plan.initrdAddress());
            m.writeU64(START_INFO_MODLIST + 8, plan.initrdSize());
        }
    }

    private static void writeZeroPage(GuestMemory m, Plan plan, KernelImage.BzImage bz, long rsdp) {
        m.fill(ZERO_PAGE, ZERO_PAGE_SIZE, (byte) 0);
        m.write(ZERO_PAGE + BP_HDR, bz.header(), 0, bz.header().length);
        m.writeU8(ZERO_PAGE + BP_TYPE_OF_LOADER, LOADER_UNDEFINED);
        m.writeU8(ZERO_PAGE + BP_LOADFLAGS, m.readU8(ZERO_PAGE + BP_LOADFLAGS) | CAN_USE_HEAP);
        m.writeU32(ZERO_PAGE + BP_CMD_LINE_PTR, CMDLINE);
        m.writeU32(ZERO_PAGE + BP_EXT_CMD_LINE_PTR, 0);
        m.writeU32(ZERO_PAGE + BP_RAMDISK_IMAGE, plan.initrdAddress() & 0xffff_ffffL);
        m.writeU32(ZERO_PAGE + BP_RAMDISK_SIZE, plan.initrdSize() & 0xffff_ffffL);
        m.writeU32(ZERO_PAGE + BP_EXT_RAMDISK_IMAGE, plan.initrdAddress() >>> 32);
        m.writeU32(ZERO_PAGE + BP_EXT_RAMDISK_SIZE, plan.initrdSize() >>> 32);
        m.writeU64(ZERO_PAGE + BP_ACPI_RSDP_ADDR, rsdp);
        m.writeU8(ZERO_PAGE + BP_E820_ENTRIES, plan.memoryMap().size());
        long e = ZERO_PAGE + BP_E820_TABLE;
        for (MemoryRange r : plan.memoryMap()) {
            m.writeU64(e, r.address());
            m.writeU64(e + 8, r.length());
            m.writeU32(e + 16, r.type());
            e += E820_ENTRY_SIZE;
        }
    }

    /** The first 4 GiB identity-mapped with 2 MiB pages: the kernel, the zero page, the command line and the initrd are all there. */
    private static void writeIdentityPageTables(GuestMemory m) {
        m.fill(PML4, PD + 4 * PAGE - PML4, (byte) 0);
        m.writeU64(PML4, PDPT | PRESENT_WRITABLE);
        for (int i = 0; i < 4; i++) {
            m.writeU64(PDPT + 8L * i, (PD + i * PAGE) | PRESENT_WRITABLE);
            for (int j = 0; j < 512; j++)
                m.writeU64(PD + i * PAGE + 8L * j, ((long) i << 30 | (long) j << 21) | PRESENT_WRITABLE | LARGE_PAGE);
        }
    }

    private static byte[] read(Path file, String what) {
        try {
            byte[] b = Files.readAllBytes(file);
            if (b.length == 0) throw new IllegalArgumentException(file + ": empty " + what + " file");
            return b;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": no such " + what + " file", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the " + what + ": " + e.getMessage(), e);
        }
    }

    private static long size(Path file) {
        try {
            if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such initrd file");
            return Files.size(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the initrd: " + e.getMessage(), e);
        }
    }
}
