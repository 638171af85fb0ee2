package vmm.core.internal.acpi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generated ACPI tables are well formed, as the ACPI specification and a real parser (ACPICA's iasl) see them. */
class AcpiTablesTest {
    @TempDir
    Path dir;

    @Test
    void everyTableChecksumsToZeroAndTheRsdpPointsAtTheXsdt() {
        long base = 0xe0000;
        Map<String, byte[]> t = AcpiTables.build(base, 2);
        for (Map.Entry<String, byte[]> e : t.entrySet()) {
            byte[] b = e.getValue();
            int len = e.getKey().equals("RSD PTR ") ? 36 : ByteBuffer.wrap(b, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            assertThat(len).as(e.getKey() + " length").isEqualTo(b.length);
            assertThat(AcpiTables.checksum(b, 0, len)).as(e.getKey() + " checksum").isZero();
        }
        byte[] rsdp = t.get("RSD PTR ");
        assertThat(AcpiTables.checksum(rsdp, 0, 20)).isZero();
        assertThat(ByteBuffer.wrap(rsdp, 24, 8).order(ByteOrder.LITTLE_ENDIAN).getLong()).as("XSDT address").isGreaterThan(base);
    }

    @Test
    void tablesWrittenToGuestMemoryAreWhereTheirPointersSay() {
        try (vmm.core.memory.GuestMemory m = vmm.core.memory.GuestMemory.ofSize(1 << 20)) {
            long rsdp = AcpiTables.writeTo(m, 0xe0000, 2);
            assertThat(rsdp).isEqualTo(0xe0000);
            assertThat(signature(m, rsdp, 8)).isEqualTo("RSD PTR ");
            long xsdt = m.readU64(rsdp + 24);
            assertThat(signature(m, xsdt, 4)).isEqualTo("XSDT");
            long fadt = m.readU64(xsdt + 36), madt = m.readU64(xsdt + 44);
            assertThat(signature(m, fadt, 4)).isEqualTo("FACP");
            assertThat(signature(m, madt, 4)).isEqualTo("APIC");
            assertThat(signature(m, m.readU64(xsdt + 52), 4)).isEqualTo("MCFG");
            assertThat(signature(m, m.readU64(fadt + 140), 4)).as("FADT X_DSDT").isEqualTo("DSDT");
        }
    }

    private static String signature(vmm.core.memory.GuestMemory m, long at, int len) {
        byte[] b = new byte[len];
        m.read(at, b, 0, len);
        return new String(b, java.nio.charset.StandardCharsets.US_ASCII);
    }

    @Test
    void eisaIdsAndPackageLengthsEncodeAsTheSpecificationSays() {
        assertThat(Aml.eisaId("PNP0A03")).containsExactly(0x0c, 0x41, 0xd0, 0x0a, 0x03);
        assertThat(Aml.pkgLength(10)).containsExactly(11);
        assertThat(Aml.pkgLength(100)).containsExactly(0x40 | (102 & 0xf), 102 >> 4);
        assertThat(Aml.name("\\_SB.PCI0")).containsExactly('\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');
    }

    @Test
    void iaslDisassemblesEveryTableWithoutErrors() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/iasl")), "no iasl: apt-get install acpica-tools");
        Map<String, byte[]> t = AcpiTables.build(0xe0000, 4);
        for (Map.Entry<String, byte[]> e : t.entrySet()) {
            // The RSDP is a pointer structure, not a table with the standard header: iasl reads it only inside an
            // acpidump file; its checksums and pointer are checked above.
            if (e.getKey().equals("RSD PTR ")) continue;
            String name = e.getKey().toLowerCase();
            Path bin = Files.write(dir.resolve(name + ".dat"), e.getValue());
            Process p = new ProcessBuilder(List.of("iasl", "-d", bin.toString())).directory(dir.toFile())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(name + ": " + out).isZero();
            assertThat(out).as(name).doesNotContainIgnoringCase("error");
            assertThat(dir.resolve(name + ".dsl")).exists();
            assertThat(Files.readString(dir.resolve(name + ".dsl"))).as(name).doesNotContainIgnoringCase("incorrect checksum")
                    .doesNotContainIgnoringCase("invalid");
        }
        String dsdt = Files.readString(dir.resolve("dsdt.dsl"));
        assertThat(dsdt).contains("PNP0A03").contains("_PRT").contains("PNP0501").contains("_S5_").contains("0x03F8");
        String madt = Files.readString(dir.resolve("apic.dsl"));
        assertThat(madt).contains("Processor Local APIC").contains("I/O APIC").contains("Interrupt Source Override");
        String fadt = Files.readString(dir.resolve("facp.dsl"));
        assertThat(fadt).contains("0000000000000604"); // X_PM1a_CNT_BLK
        assertThat(fadt).containsPattern("GPE0 Block Address : 0000AFE0").containsPattern("GPE0 Block Length : 04");
        String mcfg = Files.readString(dir.resolve("mcfg.dsl"));
        assertThat(mcfg).contains("Base Address : 00000000E0000000").contains("Start Bus Number : 00")
                .contains("End Bus Number : 00");
        assertThat(dsdt).contains("PNP0C02").contains("0xE0000000").contains("0x00100000"); // the ECAM window reserved
        // the host bridge's windows: buses, I/O around the configuration ports, the 32-bit hole above ECAM
        assertThat(dsdt).contains("WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,")
                .containsPattern("WordIO \\(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,\\s*"
                        + "0x0000,\\s*// Granularity\\s*0x0000,\\s*// Range Minimum\\s*0x0CF7,")
                .containsPattern("0x0D00,\\s*// Range Minimum\\s*0xFFFF,")
                .containsPattern("DWordMemory \\(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,"
                        + "\\s*0x00000000,\\s*// Granularity\\s*0xE0100000,\\s*// Range Minimum\\s*0xFEBFFFFF,");
    }

    @Test
    void theDsdtDescribesPciHotplugAsQemuDoesAndIaslCompilesItBack() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/iasl")), "no iasl: apt-get install acpica-tools");
        Files.write(dir.resolve("dsdt.dat"), AcpiTables.build(0xe0000, 1).get("DSDT"));
        String out = run("iasl", "-d", "dsdt.dat");
        assertThat(out).doesNotContainIgnoringCase("error");
        String dsl = Files.readString(dir.resolve("dsdt.dsl"));
        assertThat(dsl).contains("OperationRegion (PCST, SystemIO, 0xAE00, 0x10)")
                .contains("Field (PCST, DWordAcc, NoLock, WriteAsZeros)")
                .containsPattern("PCIU,\\s*32,\\s*PCID,\\s*32,\\s*B0EJ,\\s*32,\\s*PCRM,\\s*32");
        // A device per hotpluggable slot, 2..31, with its address, slot number and an eject writing its bit.
        assertThat(dsl).doesNotContain("Device (S00)").doesNotContain("Device (S01)");
        for (int slot = 2; slot < 32; slot++)
            assertThat(dsl).containsPattern(String.format("Device \\(S%02X\\)\\s*\\{\\s*Name \\(_ADR, 0x%08X\\).*\\s*"
                    + "Name \\(_SUN, 0x%02X\\).*\\s*Method \\(_EJ0, 1, NotSerialized\\).*\\s*\\{\\s*B0EJ = %s\\s*\\}",
                    slot, slot << 16, slot, aslInteger(1L << slot)));
        // GPE 1's handler: reads up and down once, notifies Device Check and Eject Request per slot.
        assertThat(dsl).contains("Scope (\\_GPE)").contains("Method (_E01, 0, NotSerialized)")
                .contains("Local0 = \\_SB.PCI0.PCIU").contains("Local1 = \\_SB.PCI0.PCID")
                .containsPattern("If \\(\\(Local0 & 0x20000000\\)\\)\\s*\\{\\s*Notify \\(\\\\_SB.PCI0.S1D, One\\)")
                .containsPattern("If \\(\\(Local1 & 0x20000000\\)\\)\\s*\\{\\s*Notify \\(\\\\_SB.PCI0.S1D, 0x03\\)");
        // iasl compiles the disassembly back with no error (its one warning, PCI0 having both _HID and _ADR,
        // is older than hotplug and what QEMU's DSDT has too).
        String compiled = run("iasl", "-p", "again", "dsdt.dsl");
        assertThat(compiled).contains("Compilation successful").contains(" 0 Errors");
        assertThat(compiled.lines().filter(l -> l.startsWith("Warning") || l.startsWith("Error")))
                .allMatch(l -> l.contains("requires either a _HID or _ADR"));
    }

    /** An integer as iasl writes it: as wide as its AML encoding (byte, word or dword). */
    private static String aslInteger(long v) {
        return v <= 0xff ? String.format("0x%02X", v) : v <= 0xffff ? String.format("0x%04X", v) : String.format("0x%08X", v);
    }

    private String run(String... command) throws Exception {
        Process p = new ProcessBuilder(List.of(command)).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }
}
