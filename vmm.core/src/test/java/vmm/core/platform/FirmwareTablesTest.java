package vmm.core.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.Inert;
import vmm.core.bus.IoPortBus;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;

/**
 * The ACPI tables reach firmware the way QEMU hands them over: read through
 * fw_cfg's ports after the firmware moved the PM block, placed and patched
 * by the linker/loader commands (run here as SeaBIOS's romfile_loader.c runs
 * them), they checksum, point at each other, name the PM block where the
 * firmware put it, and ACPICA's iasl reads them.
 */
class FirmwareTablesTest {
    /** Where this test's "firmware" places the two files: the RSDP in the F segment, the tables high. */
    private static final long RSDP_AT = 0xf5a20, TABLES_AT = 0x3ff_0000;

    @TempDir
    Path dir;

    private final GuestMemory memory = PcPlatform.memory(64 << 20, null);
    private final Machine machine = new Machine(memory, Inert.IRQS);
    private final PcPlatform platform = PcPlatform.install(machine, 2, Inert.POWER, line -> { });
    private final IoPortBus io = machine.ioPorts();

    @AfterEach
    void close() {
        platform.close();
        machine.close();
    }

    @Test
    void theTablesNameThePmBlockWhereTheFirmwareMovedItAndChecksumAfterTheLoaderRan() {
        movePmBase(0xb000);
        long rsdp = load();

        assertThat(string(rsdp, 8)).isEqualTo("RSD PTR ");
        assertThat(string(rsdp + 9, 6)).as("OEM ID").isEqualTo("VMMJVA");
        assertThat(sum(rsdp, 20)).as("RSDP checksum").isZero();
        assertThat(sum(rsdp, 36)).as("RSDP extended checksum").isZero();
        long xsdt = memory.readU64(rsdp + 24);
        assertThat(xsdt).as("XSDT address, patched by the loader").isBetween(TABLES_AT, TABLES_AT + 0x10000);
        assertThat(string(xsdt, 4)).isEqualTo("XSDT");
        Map<String, Long> tables = xsdtEntries(xsdt);
        assertThat(tables).containsKeys("FACP", "APIC");
        for (long t : List.of(xsdt, tables.get("FACP"), tables.get("APIC")))
            assertThat(sum(t, memory.readU32AsInt(t + 4))).as(string(t, 4) + " checksum").isZero();
        long fadt = tables.get("FACP");
        assertThat(memory.readU32AsInt(fadt + 64)).as("PM1a_CNT_BLK").isEqualTo(0xb004);
        assertThat(memory.readU32AsInt(fadt + 76)).as("PM_TMR_BLK").isEqualTo(0xb008);
        assertThat(memory.readU64(fadt + 172 + 4)).as("X_PM1a_CNT_BLK").isEqualTo(0xb004);
        long dsdt = memory.readU64(fadt + 140);
        assertThat(memory.readU32AsInt(fadt + 40)).as("DSDT and X_DSDT agree").isEqualTo((int) dsdt);
        assertThat(string(dsdt, 4)).isEqualTo("DSDT");
        assertThat(sum(dsdt, memory.readU32AsInt(dsdt + 4))).as("DSDT checksum").isZero();
    }

    @Test
    void theTablesAreBuiltOnceAtTheFirstReadAsQemuDoes() {
        movePmBase(0xb000);
        byte[] first = readFile("etc/acpi/tables");
        movePmBase(0xc000);
        assertThat(readFile("etc/acpi/tables")).as("same bytes: the loader and the tables must agree").isEqualTo(first);
    }

    @Test
    void aMachineResetPutsThePmBlockBackAndTheNextReadBuildsTheTablesAgain() {
        io.write(0xcf8, 4, 0x8000_0b80L);
        io.write(0xcfc, 1, 1);          // PMREGMISC: PM I/O on
        movePmBase(0xb000);
        assertThat(io.isClaimed(0xb004)).isTrue();
        byte[] before = readFile("etc/acpi/tables");
        platform.reset();
        assertThat(io.isClaimed(0xb004)).as("the PM block decodes nowhere after a reset").isFalse();
        io.write(0xcf8, 4, 0x8000_0b40L);
        assertThat(io.read(0xcfc, 4)).as("PMBA at its power-on value").isEqualTo(1);
        movePmBase(0xc000);
        byte[] after = readFile("etc/acpi/tables");
        assertThat(after).isNotEqualTo(before);
        long rsdp = load();
        long fadt = xsdtEntries(memory.readU64(rsdp + 24)).get("FACP");
        assertThat(memory.readU32AsInt(fadt + 64)).as("PM1a_CNT_BLK after the reset").isEqualTo(0xc004);
    }

    @Test
    void iaslReadsEveryTableAsTheFirmwareSeesIt() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/iasl")), "no iasl: apt-get install acpica-tools");
        movePmBase(0xb000);
        long rsdp = load();
        long xsdt = memory.readU64(rsdp + 24);
        Map<String, Long> tables = new HashMap<>(xsdtEntries(xsdt));
        tables.put("XSDT", xsdt);
        tables.put("DSDT", memory.readU64(tables.get("FACP") + 140));
        for (Map.Entry<String, Long> t : tables.entrySet()) {
            byte[] b = new byte[memory.readU32AsInt(t.getValue() + 4)];
            memory.read(t.getValue(), b, 0, b.length);
            String name = t.getKey().toLowerCase();
            Files.write(dir.resolve(name + ".dat"), b);
            Process p = new ProcessBuilder("iasl", "-d", name + ".dat").directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(name + ": " + out).isZero();
            assertThat(Files.readString(dir.resolve(name + ".dsl"))).as(name).doesNotContainIgnoringCase("incorrect checksum")
                    .doesNotContainIgnoringCase("invalid");
        }
        assertThat(Files.readString(dir.resolve("facp.dsl"))).contains("000000000000B004").contains("000000000000B008");
    }

    /** What SeaBIOS's PCI set-up does: PMBA of 00:01.3 through configuration mechanism #1. */
    private void movePmBase(int base) {
        io.write(0xcf8, 4, 0x8000_0b40L);
        io.write(0xcfc, 4, base | 1);
    }

    /** Reads the directory and a file through the selector and data ports. */
    private byte[] readFile(String name) {
        io.write(0x510, 2, 0x19);
        int count = Integer.reverseBytes((int) io.read(0x511, 4));
        for (int i = 0; i < count; i++) {
            byte[] e = new byte[64];
            for (int j = 0; j < 64; j++) e[j] = (byte) io.read(0x511, 1);
            ByteBuffer b = ByteBuffer.wrap(e);
            int size = b.getInt(), key = b.getShort(4) & 0xffff;
            String n = new String(e, 8, 56, StandardCharsets.US_ASCII).replace("\0", "");
            if (n.equals(name)) {
                io.write(0x510, 2, key);
                byte[] out = new byte[size];
                for (int j = 0; j < size; j++) out[j] = (byte) io.read(0x511, 1);
                return out;
            }
        }
        throw new AssertionError("no fw_cfg file " + name);
    }

    /** Runs etc/table-loader as SeaBIOS does; returns the RSDP's address. */
    private long load() {
        byte[] loader = readFile("etc/table-loader");
        assertThat(loader.length % 128).isZero();
        Map<String, Long> placed = new HashMap<>();
        ByteBuffer b = ByteBuffer.wrap(loader).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < loader.length; at += 128) {
            int command = b.getInt(at);
            String file = name(loader, at + 4);
            switch (command) {
                case 1 -> {
                    int align = b.getInt(at + 60), zone = b.get(at + 64);
                    long where = zone == 2 ? RSDP_AT : TABLES_AT;
                    assertThat(where % align).isZero();
                    byte[] data = readFile(file);
                    memory.write(where, data, 0, data.length);
                    placed.put(file, where);
                }
                case 2 -> {
                    String src = name(loader, at + 60);
                    int offset = b.getInt(at + 116), size = b.get(at + 120);
                    long p = placed.get(file) + offset, v = 0;
                    for (int i = 0; i < size; i++) v |= (long) memory.readU8(p + i) << (8 * i);
                    v += placed.get(src);
                    for (int i = 0; i < size; i++) memory.writeU8(p + i, (int) (v >>> (8 * i)) & 0xff);
                }
                case 3 -> {
                    long base = placed.get(file);
                    int offset = b.getInt(at + 60), start = b.getInt(at + 64), length = b.getInt(at + 68);
                    memory.writeU8(base + offset, (memory.readU8(base + offset) - sum(base + start, length)) & 0xff);
                }
                default -> throw new AssertionError("unknown loader command " + command);
            }
        }
        return placed.get("etc/acpi/rsdp");
    }

    private Map<String, Long> xsdtEntries(long xsdt) {
        Map<String, Long> m = new HashMap<>();
        int len = memory.readU32AsInt(xsdt + 4);
        for (int o = 36; o < len; o += 8) {
            long t = memory.readU64(xsdt + o);
            m.put(string(t, 4), t);
        }
        return m;
    }

    private static String name(byte[] b, int at) {
        int end = at;
        while (b[end] != 0) end++;
        return new String(b, at, end - at, StandardCharsets.US_ASCII);
    }

    private int sum(long at, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) s += memory.readU8(at + i);
        return s & 0xff;
    }

    private String string(long at, int n) {
        byte[] b = new byte[n];
        memory.read(at, b, 0, n);
        return new String(b, StandardCharsets.US_ASCII);
    }
}
