package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcMachine;
import vmm.launcher.internal.DemoDisk;

/**
 * SeaBIOS installs our ACPI tables, not its own: it reads them through
 * fw_cfg after moving the PM block, runs our linker/loader commands, and the
 * guest finds our RSDP in the BIOS area, with checksums that verify after
 * the loader patched the pointers and a FADT that names the PM block where
 * SeaBIOS put it (the PIIX4 decodes it nowhere until then), the block the
 * boot sector then powers off through.
 */
class SeaBiosAcpiTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void theGuestFindsOurTablesWithThePmBlockSeaBiosChose(String accel) throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS), "no " + SeaBiosBootTest.SEABIOS + ": apt-get install seabios");
        BackEnd.require(accel);
        Path disk = dir.resolve("boot.img");
        DemoDisk.write(disk);
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());

        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 2, Files.readAllBytes(SeaBiosBootTest.SEABIOS)),
                     firmwareLog::add)) {
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk",
                    new VirtioBlockProvider());
            vm.start();
            Optional<PcMachine.Exit> exit = vm.awaitExit(Duration.ofSeconds(60));
            String log = String.join("\n", firmwareLog);
            assertThat(exit).as("the VM ended; firmware log:%n%s", log).isPresent();
            assertThat(exit.get().outcome()).as(exit.get().detail() + "\n" + log).isEqualTo(PcMachine.Outcome.POWER_OFF);

            GuestMemory m = vm.machine().memory();
            int pmBase = vm.machine().pci().configRead(new PciAddress(0, 1, 3), 0x40, 4) & 0xffc0;
            // Seeing etc/table-loader, SeaBIOS places the PM block at 0x600 (where QEMU's own tables assume it);
            // without it at 0xB000. Either way it is SeaBIOS's choice, made before it reads the tables.
            assertThat(pmBase).as("SeaBIOS placed the PM block; log:%n%s", log).isNotZero();
            assertThat(log).contains("Moving pm_base to 0x" + Integer.toHexString(pmBase));

            long rsdp = findRsdp(m);
            assertThat(rsdp).as("an RSDP in 0xE0000-0xFFFFF; firmware log:%n%s", log).isPositive();
            assertThat(string(m, rsdp + 9, 6)).as("the RSDP's OEM ID: ours, not SeaBIOS's BOCHS").isEqualTo("VMMJVA");
            assertThat(sum(m, rsdp, 20)).isZero();
            assertThat(sum(m, rsdp, 36)).isZero();
            long xsdt = m.readU64(rsdp + 24);
            assertThat(string(m, xsdt, 4)).isEqualTo("XSDT");
            assertThat(sum(m, xsdt, m.readU32AsInt(xsdt + 4))).as("XSDT checksum").isZero();
            long fadt = -1, madt = -1;
            for (int o = 36; o < m.readU32AsInt(xsdt + 4); o += 8) {
                long t = m.readU64(xsdt + o);
                if (string(m, t, 4).equals("FACP")) fadt = t;
                if (string(m, t, 4).equals("APIC")) madt = t;
            }
            assertThat(fadt).as("the XSDT lists a FADT").isPositive();
            assertThat(string(m, fadt + 10, 6)).isEqualTo("VMMJVA");
            assertThat(sum(m, fadt, m.readU32AsInt(fadt + 4))).as("FADT checksum").isZero();
            assertThat(sum(m, madt, m.readU32AsInt(madt + 4))).as("MADT checksum").isZero();
            assertThat(m.readU32AsInt(fadt + 64)).as("PM1a_CNT_BLK, where the boot sector's S5 went").isEqualTo(pmBase + 4);
            assertThat(m.readU32AsInt(fadt + 76)).as("PM_TMR_BLK").isEqualTo(pmBase + 8);
            long dsdt = m.readU64(fadt + 140);
            assertThat(string(m, dsdt, 4)).isEqualTo("DSDT");
            assertThat(sum(m, dsdt, m.readU32AsInt(dsdt + 4))).as("DSDT checksum").isZero();
        }
    }

    /** The RSDP as an OS finds it: on a 16-byte boundary in the BIOS area, with a valid checksum. */
    static long findRsdp(GuestMemory m) {
        for (long a = 0xe0000; a < 0x100000; a += 16)
            if (string(m, a, 8).equals("RSD PTR ") && sum(m, a, 20) == 0) return a;
        return -1;
    }

    static int sum(GuestMemory m, long at, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) s += m.readU8(at + i);
        return s & 0xff;
    }

    static String string(GuestMemory m, long at, int n) {
        byte[] b = new byte[n];
        m.read(at, b, 0, n);
        return new String(b, StandardCharsets.US_ASCII);
    }
}
