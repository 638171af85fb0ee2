package vmm.core.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.memory.GuestMemory;
import vmm.core.platform.PcPlatform;

class LinuxBootTest {
    static final long RAM = 64L << 20;
    static final List<MemoryRange> MAP = PcPlatform.kernelMemoryMap(RAM);
    static final String CMDLINE = "console=ttyS0 root=/dev/vda";
    static final long RSDP = 0xe0000;

    @TempDir
    Path dir;
    GuestMemory memory;

    @BeforeEach
    void memory() {
        memory = PcPlatform.memory(RAM, null);
        memory.fill(0x10_0000, 0x20_0000, (byte) 0xff); // so zero-filling shows
    }

    @AfterEach
    void close() {
        memory.close();
    }

    private String string(long at, int len) {
        byte[] b = new byte[len];
        memory.read(at, b, 0, len);
        return new String(b, StandardCharsets.US_ASCII);
    }

    @Test
    void pvhElfSegmentsLandAtTheirPhysicalAddressesWithTheRestOfMemszZeroed() {
        KernelEntry e = LinuxBoot.load(memory, MAP, "vmlinux", Images.elf(true), null, CMDLINE, RSDP);

        assertThat(string(Images.ELF_PADDR, Images.ELF_FILESZ)).isEqualTo("PVH-KERNEL-CODE!");
        byte[] bss = new byte[Images.ELF_MEMSZ - Images.ELF_FILESZ];
        memory.read(Images.ELF_PADDR + Images.ELF_FILESZ, bss, 0, bss.length);
        assertThat(bss).containsOnly(0);
        assertThat(memory.readU8(Images.ELF_PADDR + Images.ELF_MEMSZ)).isEqualTo(0xff);
        assertThat(e.mode()).isEqualTo(KernelEntry.Mode.PVH_32);
        assertThat(e.rip()).isEqualTo(Images.ELF_ENTRY);
    }

    @Test
    void hvmStartInfoHasTheMagicVersionOneCommandLineRsdpAndTheMemoryMap() {
        LinuxBoot.load(memory, MAP, "vmlinux", Images.elf(true), null, CMDLINE, RSDP);
        long si = LinuxBoot.START_INFO;

        assertThat(memory.readU32(si)).isEqualTo(0x336ec578L);
        assertThat(memory.readU32(si + 4)).isEqualTo(1);
        assertThat(memory.readU32(si + 12)).as("nr_modules").isZero();
        long cmd = memory.readU64(si + 24);
        assertThat(string(cmd, CMDLINE.length() + 1)).isEqualTo(CMDLINE + "\0");
        assertThat(memory.readU64(si + 32)).as("rsdp_paddr").isEqualTo(RSDP);
        long mm = memory.readU64(si + 40);
        assertThat(memory.readU32(si + 48)).as("memmap_entries").isEqualTo(4);
        // hvm_memmap_table_entry: addr, size, type, reserved: 24 bytes
        assertThat(new long[] {memory.readU64(mm), memory.readU64(mm + 8), memory.readU32(mm + 16)}).containsExactly(0, 0xa0000, 1);
        assertThat(new long[] {memory.readU64(mm + 24), memory.readU64(mm + 32), memory.readU32(mm + 40)}).containsExactly(0xc0000, 0x40000, 2);
        assertThat(new long[] {memory.readU64(mm + 48), memory.readU64(mm + 56), memory.readU32(mm + 64)})
                .containsExactly(0x100000, RAM - 0x100000, 1);
    }

    @Test
    void pvhInitrdIsModuleZeroPageAlignedAtTheTopOfLowRam() {
        byte[] initrd = new byte[10_000];
        Arrays.fill(initrd, (byte) 0x5a);
        LinuxBoot.load(memory, MAP, "vmlinux", Images.elf(true), initrd, CMDLINE, 0);
        long si = LinuxBoot.START_INFO;

        assertThat(memory.readU32(si + 12)).isEqualTo(1);
        long mod = memory.readU64(si + 16);
        long at = memory.readU64(mod), size = memory.readU64(mod + 8);
        assertThat(size).isEqualTo(initrd.length);
        assertThat(at % 4096).isZero();
        assertThat(at + size).isLessThanOrEqualTo(RAM).isGreaterThan(RAM - 4096);
        assertThat(memory.readU8(at)).isEqualTo(0x5a);
        assertThat(memory.readU8(at + size - 1)).isEqualTo(0x5a);
    }

    @Test
    void pvhEntryIsFlat32BitProtectedModeWithoutPagingAndEbxAtStartInfo() {
        KernelEntry e = LinuxBoot.load(memory, MAP, "vmlinux", Images.elf(true), null, CMDLINE, 0);
        Registers r = e.registers();
        SpecialRegisters s = e.specialRegisters(new SpecialRegisters());

        assertThat(r.get(Registers.Reg.RBX)).isEqualTo(LinuxBoot.START_INFO);
        assertThat(r.rip()).isEqualTo(Images.ELF_ENTRY);
        assertThat(s.cr0() & SpecialRegisters.CR0_PE).isNotZero();
        assertThat(s.cr0() & SpecialRegisters.CR0_PG).isZero();
        assertThat(s.efer()).isZero();
        var cs = s.segment(SpecialRegisters.Seg.CS);
        assertThat(cs.base()).isZero();
        assertThat(cs.limit()).isEqualTo(0xffffffff);
        assertThat(cs.db()).isTrue();
        assertThat(cs.l()).isFalse();
        assertThat(memory.readU64(s.gdt().base() + cs.selector())).as("GDT code descriptor").isEqualTo(0x00CF9B000000FFFFL);
        assertThat(memory.readU64(s.gdt().base() + s.segment(SpecialRegisters.Seg.DS).selector())).isEqualTo(0x00CF93000000FFFFL);
    }

    @Test
    void bzImageProtectedModeKernelIsLoadedAtPrefAddressAndEnteredAt0x200InLongMode() {
        KernelEntry e = LinuxBoot.load(memory, MAP, "bzImage", Images.bzImage(), null, CMDLINE, RSDP);

        assertThat(string(Images.PREF_ADDRESS, Images.BZ_KERNEL.length)).isEqualTo(new String(Images.BZ_KERNEL, StandardCharsets.US_ASCII));
        assertThat(e.mode()).isEqualTo(KernelEntry.Mode.LONG_64);
        assertThat(e.rip()).isEqualTo(Images.PREF_ADDRESS + 0x200);
        assertThat(e.registers().get(Registers.Reg.RSI)).isEqualTo(LinuxBoot.ZERO_PAGE);
        SpecialRegisters s = e.specialRegisters(new SpecialRegisters());
        assertThat(s.efer()).isEqualTo(SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA);
        assertThat(s.cr0() & SpecialRegisters.CR0_PG).isNotZero();
        assertThat(s.cr4() & SpecialRegisters.CR4_PAE).isNotZero();
        assertThat(s.cr3()).isEqualTo(LinuxBoot.PML4);
        assertThat(s.segment(SpecialRegisters.Seg.CS).l()).isTrue();
        assertThat(s.segment(SpecialRegisters.Seg.CS).selector()).isEqualTo(0x10); // __BOOT_CS
        assertThat(s.segment(SpecialRegisters.Seg.DS).selector()).isEqualTo(0x18); // __BOOT_DS
        assertThat(memory.readU64(s.gdt().base() + 0x10)).as("64-bit code descriptor").isEqualTo(0x00AF9B000000FFFFL);
    }

    @Test
    void bzImagePageTablesIdentityMapTheFirstFourGibWithTwoMibPages() {
        LinuxBoot.load(memory, MAP, "bzImage", Images.bzImage(), null, CMDLINE, 0);

        long pdpt = memory.readU64(LinuxBoot.PML4) & ~0xfffL;
        for (int gib = 0; gib < 4; gib++) {
            long pd = memory.readU64(pdpt + 8L * gib) & ~0xfffL;
            for (int i : new int[] {0, 8, 511}) {
                long pde = memory.readU64(pd + 8L * i);
                assertThat(pde & 0x83).as("present, writable, 2 MiB").isEqualTo(0x83);
                assertThat(pde & ~0xfffL).isEqualTo((long) gib << 30 | (long) i << 21);
            }
        }
    }

    @Test
    void zeroPageHoldsTheSetupHeaderLoaderTypeCommandLineInitrdRsdpAndE820() {
        byte[] initrd = new byte[0x3000];
        LinuxBoot.load(memory, MAP, "bzImage", Images.bzImage(), initrd, CMDLINE, RSDP);
        long zp = LinuxBoot.ZERO_PAGE;

        assertThat(string(zp + 0x202, 4)).as("the setup header is copied at 0x1f1").isEqualTo("HdrS");
        assertThat(memory.readU16(zp + 0x206)).isEqualTo(0x020f);
        assertThat(memory.readU16(zp + 0x1fe)).isEqualTo(0xaa55);
        assertThat(memory.readU8(zp + 0x210)).as("type_of_loader").isEqualTo(0xff);
        assertThat(memory.readU8(zp + 0x211) & 0x81).as("loadflags LOADED_HIGH | CAN_USE_HEAP").isEqualTo(0x81);
        long cmd = memory.readU32(zp + 0x228);
        assertThat(string(cmd, CMDLINE.length() + 1)).isEqualTo(CMDLINE + "\0");
        assertThat(memory.readU32(zp + 0x0c8)).as("ext_cmd_line_ptr").isZero();
        long initrdAt = memory.readU32(zp + 0x218);
        assertThat(memory.readU32(zp + 0x21c)).isEqualTo(0x3000);
        assertThat(initrdAt).isEqualTo(RAM - 0x3000);
        assertThat(memory.readU64(zp + 0x070)).as("acpi_rsdp_addr").isEqualTo(RSDP);
        assertThat(memory.readU8(zp + 0x1e8)).as("e820_entries").isEqualTo(4);
        long e820 = zp + 0x2d0; // 20-byte entries: addr, size, type
        assertThat(new long[] {memory.readU64(e820 + 40), memory.readU64(e820 + 48), memory.readU32(e820 + 56)})
                .containsExactly(0x100000, RAM - 0x100000, 1);
        assertThat(memory.readU32(e820 + 36)).as("the reserved BIOS area").isEqualTo(2);
    }

    @Test
    void bzImageInitrdStaysBelowInitrdAddrMax() {
        long max = 0x1ff_ffff; // 32 MiB - 1, below this 64 MiB guest's RAM top
        LinuxBoot.load(memory, MAP, "bzImage", Images.bzImage(0x020f, 1, max, 2047), new byte[5000], CMDLINE, 0);

        long at = memory.readU32(LinuxBoot.ZERO_PAGE + 0x218);
        assertThat(at + 5000).isLessThanOrEqualTo(max + 1);
        assertThat(at).isEqualTo((max + 1 - 5000) & -4096L);
        assertThat(at).isGreaterThanOrEqualTo(Images.PREF_ADDRESS + Images.INIT_SIZE);
    }

    @Test
    void aMissingKernelFileIsNamed() {
        Path none = dir.resolve("no-such-kernel");
        assertThatThrownBy(() -> LinuxBoot.check(none, null, "", MAP))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(none.toString()).hasMessageContaining("no such kernel file");
    }

    @Test
    void anEmptyKernelFileIsRefused() throws Exception {
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        assertThatThrownBy(() -> LinuxBoot.check(empty, null, "", MAP)).hasMessageContaining(empty.toString()).hasMessageContaining("empty");
    }

    @Test
    void aFileThatIsNeitherElfNorBzImageIsRefused() throws Exception {
        Path text = Files.writeString(dir.resolve("notes.txt"), "hello ".repeat(200));
        assertThatThrownBy(() -> LinuxBoot.check(text, null, "", MAP)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(text.toString()).hasMessageContaining("not a Linux kernel");
    }

    @Test
    void anElfWithoutThePvhNoteIsRefused() throws Exception {
        Path elf = Files.write(dir.resolve("vmlinux"), Images.elf(false));
        assertThatThrownBy(() -> LinuxBoot.check(elf, null, "", MAP)).hasMessageContaining(elf.toString())
                .hasMessageContaining("XEN_ELFNOTE_PHYS32_ENTRY");
    }

    @Test
    void anElfNoteWithAHugeNameSizeIsRefusedAsHavingNoPvhEntry() throws Exception {
        byte[] b = Images.elf(true);
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0x180, 0x7fff_fffd); // first note's namesz
        Path elf = Files.write(dir.resolve("vmlinux"), b);
        assertThatThrownBy(() -> LinuxBoot.check(elf, null, "", MAP)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("XEN_ELFNOTE_PHYS32_ENTRY");
    }

    @Test
    void aTruncatedElfIsRefused() throws Exception {
        Path elf = Files.write(dir.resolve("vmlinux"), Arrays.copyOf(Images.elf(true), 0x108));
        assertThatThrownBy(() -> LinuxBoot.check(elf, null, "", MAP)).hasMessageContaining(elf.toString())
                .hasMessageContaining("truncated");
    }

    @Test
    void aTruncatedBzImageIsRefused() throws Exception {
        for (int length : new int[] {0x207, 0x240, Images.KERNEL_OFFSET}) {
            Path bz = Files.write(dir.resolve("bzImage" + length), Arrays.copyOf(Images.bzImage(), length));
            assertThatThrownBy(() -> LinuxBoot.check(bz, null, "", MAP)).as("%d bytes", length)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(bz.toString()).hasMessageContaining("truncated");
        }
    }

    @Test
    void aBzImageOlderThanProtocol2_12IsRefused() throws Exception {
        Path bz = Files.write(dir.resolve("bzImage"), Images.bzImage(0x020b, 1, 0x7fffffff, 2047));
        assertThatThrownBy(() -> LinuxBoot.check(bz, null, "", MAP)).hasMessageContaining(bz.toString())
                .hasMessageContaining("2.11").hasMessageContaining("too old");
    }

    @Test
    void aBzImageWithoutThe64BitEntryIsRefused() throws Exception {
        Path bz = Files.write(dir.resolve("bzImage"), Images.bzImage(0x020f, 0, 0x7fffffff, 2047));
        assertThatThrownBy(() -> LinuxBoot.check(bz, null, "", MAP)).hasMessageContaining("XLF_KERNEL_64");
    }

    @Test
    void anInitrdLargerThanRamIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path bz = Files.write(dir.resolve("bzImage"), Images.bzImage());
        Path initrd = dir.resolve("initrd.img");
        try (var f = new java.io.RandomAccessFile(initrd.toFile(), "rw")) {
            f.setLength(RAM); // sparse
        }
        assertThatThrownBy(() -> LinuxBoot.check(bz, initrd, "", MAP)).hasMessageContaining(initrd.toString())
                .hasMessageContaining("does not fit in RAM");
        assertThatThrownBy(() -> LinuxBoot.load(memory, MAP, bz, initrd, "", 0)).hasMessageContaining("does not fit in RAM");
        assertThat(memory.readU32(LinuxBoot.ZERO_PAGE + 0x202)).as("no zero page was written").isZero();
    }

    @Test
    void aKernelThatDoesNotFitInRamIsRefused() {
        List<MemoryRange> small = PcPlatform.kernelMemoryMap(16L << 20); // pref_address is 16 MiB
        assertThatThrownBy(() -> LinuxBoot.plan(KernelImage.parse("bzImage", Images.bzImage()), null, 0, "", small))
                .hasMessageContaining("bzImage does not fit in RAM");
    }

    @Test
    void aCommandLineLongerThanTheKernelTakesIsRefused() {
        byte[] bz = Images.bzImage(0x020f, 1, 0x7fffffff, 16);
        assertThatThrownBy(() -> LinuxBoot.load(memory, MAP, "bzImage", bz, null, "console=ttyS0 quiet", 0))
                .hasMessageContaining("command line is 19 bytes").hasMessageContaining("at most 16");
    }

    @Test
    void theKernelMemoryMapSplitsAroundThePciHoleAboveThreeAndAHalfGib() {
        List<MemoryRange> map = PcPlatform.kernelMemoryMap(5L << 30);
        assertThat(map).containsExactly(
                new MemoryRange(0, 0xa0000, MemoryRange.E820_RAM),
                new MemoryRange(0xc0000, 0x40000, MemoryRange.E820_RESERVED),
                new MemoryRange(0x100000, 0xe000_0000L - 0x100000, MemoryRange.E820_RAM),
                new MemoryRange(0xe000_0000L, 1 << 20, MemoryRange.E820_RESERVED),  // the PCIe ECAM window
                new MemoryRange(1L << 32, (5L << 30) - 0xe000_0000L, MemoryRange.E820_RAM));
    }
}
