package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciFunctionSpec;
import vmm.core.platform.PcMachine;
import vmm.launcher.internal.DemoDisk;

/**
 * A PCI function's expansion ROM, decoded through its ROM BAR by the core's
 * PCI bus, is found, sized, mapped, copied and run by SeaBIOS: the ROM's
 * initialization entry writes a marker to the debug console. The ROM is a
 * minimal legacy option ROM (PCI Firmware 3.2, 5.1: 0x55AA, size, entry at
 * 3, PCIR data structure naming the function's IDs, last-image indicator,
 * checksum zero).
 */
class SeaBiosOptionRomTest {
    static final String MARKER = "OPTION-ROM-RAN";
    /** QEMU's test device IDs (Red Hat, pci-testdev): no SeaBIOS driver claims it, so its ROM is run. */
    static final int VENDOR = 0x1b36, DEVICE = 0x0005;

    @TempDir
    Path dir;

    static byte[] optionRom() {
        ByteBuffer r = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        r.put(0, (byte) 0x55).put(1, (byte) 0xaa).put(2, (byte) 1);     // signature, 1 block of 512 bytes
        r.put(3, (byte) 0xeb).put(4, (byte) (0x40 - 5));                // jmp short 0x40: the init entry
        r.putShort(0x18, (short) 0x20);                                  // offset of the PCIR structure
        r.put(0x20, "PCIR".getBytes(StandardCharsets.US_ASCII)).putShort(0x24, (short) VENDOR).putShort(0x26, (short) DEVICE)
                .putShort(0x2a, (short) 0x18).put(0x2c, (byte) 0)       // length, revision
                .put(0x2d, (byte) 0).put(0x2e, (byte) 0).put(0x2f, (byte) 0xff) // class code ff0000
                .putShort(0x30, (short) 1).put(0x34, (byte) 0).put(0x35, (byte) 0x80); // 1 block, x86 code, last image
        ByteArrayOutputStream code = new ByteArrayOutputStream();
        code.writeBytes(new byte[] {(byte) 0xba, 0x02, 0x04});          // mov dx, 0x402
        for (byte c : (MARKER + "\n").getBytes(StandardCharsets.US_ASCII))
            code.writeBytes(new byte[] {(byte) 0xb0, c, (byte) 0xee});  // mov al, c; out dx, al
        code.write(0xcb);                                                // retf
        r.put(0x40, code.toByteArray());
        byte[] rom = r.array();
        int sum = 0;
        for (byte b : rom) sum += b;
        rom[511] = (byte) -sum;
        return rom;
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void seaBiosRunsTheOptionRomOfAFunctionThroughItsRomBar(String accel) throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS), "no " + SeaBiosBootTest.SEABIOS + ": apt-get install seabios");
        BackEnd.require(accel);
        Path disk = dir.resolve("boot.img");
        DemoDisk.write(disk);
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 1, Files.readAllBytes(SeaBiosBootTest.SEABIOS)),
                     firmwareLog::add)) {
            vm.machine().pci().attach("rom-test", PciAddress.slot(6), PciFunctionSpec.builder(VENDOR, DEVICE)
                    .classCode(0xff, 0x00, 0x00).rom(optionRom()).build(), null);
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk",
                    new VirtioBlockProvider());
            vm.start();
            Optional<PcMachine.Exit> exit = vm.awaitExit(Duration.ofSeconds(60));
            String log = String.join("\n", firmwareLog);
            assertThat(exit).as("the VM ended; firmware log:%n%s", log).isPresent();
            assertThat(exit.get().outcome()).as(exit.get().detail() + "\n" + log).isEqualTo(PcMachine.Outcome.POWER_OFF);
            assertThat(log).as("SeaBIOS ran the ROM from 00:06.0's ROM BAR").contains("00:06.0").contains(MARKER);
        }
    }
}
