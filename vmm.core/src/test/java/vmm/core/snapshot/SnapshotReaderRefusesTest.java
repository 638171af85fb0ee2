package vmm.core.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.device.DeviceState;

/** Every kind of bad file is one {@link SnapshotFormatException}, one line, naming what, where and which section. */
class SnapshotReaderRefusesTest {
    private static final int PAGE = 4096;

    /** A valid file: memory with zero and data pages, a vCPU, a platform part and two devices. */
    private static byte[] valid() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(16L * PAGE, PAGE);
            ram.asSlice(3L * PAGE, 2L * PAGE).fill((byte) 0x42);
            MemoryChannel file = new MemoryChannel();
            SnapshotWriter w = SnapshotWriter.create(file, "vmm 0.1.0", Instant.EPOCH);
            w.memory("ram", 0, ram);
            w.vcpu(0, SnapshotRoundTripTest.vcpu(0));
            w.platform("pic", DeviceState.builder("i8259", 1).put("imr", 0xff).build());
            w.device("vmm.device~com1", "uart", SnapshotRoundTripTest.uart());
            w.device("vmm.device~rng", "virtio-rng", DeviceState.builder("virtio-rng", 1).build());
            w.finish();
            return file.bytes();
        }
    }

    private static SnapshotReader open(byte[] file) throws IOException {
        return SnapshotReader.open(new MemoryChannel(file));
    }

    /** Opens and reads every payload of {@code file}, and returns the refusal. */
    private static SnapshotFormatException refusal(byte[] file) {
        SnapshotFormatException e = catchThrowableOfType(SnapshotFormatException.class, () -> {
            SnapshotReader r = open(file);
            r.verify();
            for (Section s : r.sections(SectionKind.MEMORY))
                try (Arena arena = Arena.ofConfined()) {
                    r.restoreMemory(s, arena.allocate(r.ramExtent(s).size()));
                }
        });
        assertThat(e).as("refusal").isNotNull();
        assertThat(e.getMessage()).startsWith("snapshot: ").doesNotContain("\n", "\r");
        return e;
    }

    private static byte[] flip(byte[] file, long offset) {
        byte[] b = file.clone();
        b[(int) offset] ^= 0x40;
        return b;
    }

    @Test
    void aForeignFileIsNotASnapshot() {
        byte[] zip = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        assertThat(refusal(zip)).hasMessage("snapshot: not a vmm snapshot (bad magic) at offset 0");
        assertThat(refusal("VMM-SNIP and more".getBytes())).hasMessageContaining("bad magic");
    }

    @Test
    void aNewerFormatVersionIsRefusedBeforeAnythingElse() throws IOException {
        byte[] newer = valid();
        ByteBuffer.wrap(newer).putInt(8, 2);
        assertThat(refusal(newer))
                .hasMessage("snapshot: format version 2 is newer than this build reads (1) at offset 8");
        ByteBuffer.wrap(newer).putInt(8, 0);
        assertThat(refusal(newer)).hasMessageContaining("format version 0 is not a version");
    }

    @Test
    void aCorruptByteAnywhereIsFound() throws IOException {
        byte[] good = valid();
        SnapshotReader r = open(good);
        assertThat(refusal(flip(good, 23))).hasMessage("snapshot: corrupt header (CRC-32C mismatch) at offset 31");
        Section vcpu = r.find(SectionKind.VCPU, "0").orElseThrow();
        assertThat(refusal(flip(good, vcpu.offset() + 19))).hasMessage(
                "snapshot: corrupt section header (a type of 16396 bytes) after section memory 'ram' (ram) at offset "
                + (vcpu.offset() + 19));
        assertThat(refusal(flip(good, 20)))
                .hasMessage("snapshot: corrupt header (a writer name of 16393 bytes) at offset 20");
        assertThat(refusal(flip(good, vcpu.offset() + 18)))
                .hasMessage("snapshot: corrupt section header (CRC-32C mismatch) after section memory 'ram' (ram)"
                        + " at offset "
                        + vcpu.offset());
        Section com1 = r.find(SectionKind.DEVICE, "vmm.device~com1").orElseThrow();
        assertThat(refusal(flip(good, com1.payloadOffset() + 10)))
                .hasMessage("snapshot: corrupt payload (CRC-32C mismatch) at offset "
                + com1.payloadOffset() + " in section device 'vmm.device~com1' (uart)");
        Section ram = r.find(SectionKind.MEMORY, "ram").orElseThrow();
        assertThat(refusal(flip(good, ram.payloadOffset() + 16 + 8 + 100)))
                .hasMessageContaining("corrupt payload (CRC-32C mismatch)")
                .hasMessageEndingWith("in section memory 'ram' (ram)");
        assertThat(refusal(flip(good, good.length - 2)))
                .hasMessageContaining("corrupt section table (CRC-32C mismatch)");
        // every single corrupt byte of the file is found, wherever it is
        for (int i = 0; i < good.length; i += 97) assertThat(refusal(flip(good, i))).isNotNull();
    }

    @Test
    void aTruncatedFileIsRefusedAtEveryLengthAndNamesTheLastWholeSection() throws IOException {
        byte[] good = valid();
        SnapshotReader r = open(good);
        List<Long> boundaries = new ArrayList<>();
        boundaries.add(r.sections().get(0).offset());
        for (Section s : r.sections()) boundaries.add(s.payloadOffset() + s.length() + 4);
        assertThat(refusal(Arrays.copyOf(good, (int) (long) boundaries.get(0))))
                .hasMessage("snapshot: truncated file: no end marker after the header at offset " + boundaries.get(0));
        for (int i = 1; i < boundaries.size(); i++) {
            long at = boundaries.get(i);
            assertThat(refusal(Arrays.copyOf(good, (int) at)))
                    .hasMessage("snapshot: truncated file: no end marker after section "
                    + r.sections().get(i - 1).describe() + " at offset " + at);
        }
        for (int length = 0; length < good.length; length++)
            assertThat(refusal(Arrays.copyOf(good, length))).hasMessageStartingWith("snapshot: truncated file: ");
    }

    @Test
    void bytesAfterTheEndMarkerAreRefused() throws IOException {
        byte[] good = valid();
        assertThat(refusal(Arrays.copyOf(good, good.length + 3)))
                .hasMessage("snapshot: 3 bytes after the end marker at offset " + good.length);
    }

    @Test
    void aSectionKindOrVersionThisBuildDoesNotReadIsNamed() {
        byte[] gpu = new RawSnapshot().section("GPU ", 1, "gpu0", "virtio-gpu", new byte[8]).end();
        assertThat(refusal(gpu)).hasMessage(
                "snapshot: section kind 'GPU ' is not one this build reads at offset 31"
                        + " in section 'gpu0' (virtio-gpu)");
        byte[] binary = new RawSnapshot().section("\0\1\2\3", 1, "x", "", new byte[0]).end();
        assertThat(refusal(binary)).hasMessageContaining("section kind 0x00010203 is not one");
        byte[] v2 = new RawSnapshot().section("DEV ", 2, "com1", "uart", SnapshotRoundTripTest.uart().encode()).end();
        assertThat(refusal(v2)).hasMessage(
                "snapshot: device section version 2 is not one this build reads (1) at offset 35"
                        + " in section device 'com1' (uart)");
    }

    @Test
    void lengthsAreCheckedAgainstTheFileBeforeUse() {
        byte[] huge = new RawSnapshot().section("DEV ", 1, "com1", "uart", Long.MAX_VALUE, new byte[0], 0).end();
        assertThat(refusal(huge)).hasMessageContaining("truncated file: the payload of 9223372036854775807 bytes")
                .hasMessageEndingWith("in section device 'com1' (uart)");
        byte[] negative = new RawSnapshot().section("DEV ", 1, "com1", "uart", -1, new byte[0], 0).end();
        assertThat(refusal(negative)).hasMessageContaining("payload of 18446744073709551615 bytes");
    }

    private record Bad(String problem, byte[] payload) {
    }

    @Test
    void memoryRunsMustCoverTheRegionExactly() {
        long tib = 1L << 40;
        List<Bad> cases = List.of(
                new Bad("a run of 0 zero and 0 data pages from page 0", RawSnapshot.memory(0, 4 * PAGE, 0, 0, 0)),
                new Bad("a run of 3 zero and 2 data pages from page 0", RawSnapshot.memory(0, 4 * PAGE, 3, 2, 1)),
                new Bad("the runs end at page 2 of 4", RawSnapshot.memory(0, 4 * PAGE, 1, 1, 1)),
                new Bad("8 bytes after the last run", RawSnapshot.memory(0, 4 * PAGE, 4, 0, 0, 0, 0, 0)),
                new Bad("a region of 0x4000 bytes at 0x800 (not 4 KiB", RawSnapshot.memory(0x800, 4 * PAGE, 4, 0, 0)),
                new Bad("a region of 0x0 bytes at 0x0", RawSnapshot.memory(0, 0, 4, 0, 0)),
                new Bad("(not 4 KiB pages inside the address space)",
                        RawSnapshot.memory(Long.MAX_VALUE - 4095, 2 * PAGE, 2, 0, 0)),
                new Bad("a memory payload of 15 bytes", new byte[15]),
                // runs claiming terabytes of data the payload does not hold: refused, nothing allocated for them
                new Bad("a run of 4294967295 zero and 2147483647 data pages from page 0",
                        ByteBuffer.allocate(24).putLong(0).putLong(tib).putInt(-1).putInt(0x7fffffff).array()),
                new Bad("a run of 2147483647 data pages with 0 bytes left in the payload",
                        ByteBuffer.allocate(24).putLong(0).putLong(16 * tib).putInt(1).putInt(0x7fffffff).array()));
        for (Bad c : cases)
            assertThat(refusal(new RawSnapshot().section("MEM ", 1, "ram", "ram", c.payload()).end()))
                    .as(c.problem()).hasMessageContaining(c.problem())
                    .hasMessageEndingWith("in section memory 'ram' (ram)");
    }

    @Test
    void theSectionTableMustAddUp() {
        byte[] twice = new RawSnapshot().section("DEV ", 1, "com1", "uart", SnapshotRoundTripTest.uart().encode())
                .section("DEV ", 1, "com1", "uart", SnapshotRoundTripTest.uart().encode()).end();
        assertThat(refusal(twice)).hasMessageContaining("a second device section named 'com1'");
        byte[] wrongCount = new RawSnapshot()
                .section("PLAT", 1, "pic", "", SnapshotRoundTripTest.uart().encode()).end();
        ByteBuffer.wrap(wrongCount).putInt(wrongCount.length - 8, 2);
        assertThat(refusal(wrongCount)).hasMessageContaining("the end marker counts 2 sections, the file has 1");
    }

    @Test
    void namesAreOneLineAndStatesAreStates() {
        byte[] newline = new RawSnapshot().section("DEV ", 1, "com1\nrm -rf", "uart", new byte[0]).end();
        assertThat(refusal(newline)).hasMessage("snapshot: section name holds a control character at offset 49");
        byte[] notAState = new RawSnapshot().section("DEV ", 1, "com1", "uart", "hello".getBytes()).end();
        assertThat(refusal(notAState))
                .hasMessageContaining("payload is not a device state (not a device state (bad magic))")
                .hasMessageEndingWith("in section device 'com1' (uart)");
        byte[] badWriter = new RawSnapshot(1, "vmm\r", 0).end();
        assertThat(refusal(badWriter)).hasMessage("snapshot: writer name holds a control character at offset 22");
    }

    @Test
    void aReaderHandsOutOnlyWhatASectionHolds() throws IOException {
        SnapshotReader r = open(valid());
        Section ram = r.find(SectionKind.MEMORY, "ram").orElseThrow();
        assertThatThrownBy(() -> r.readState(ram)).hasMessageContaining("holds no state");
        assertThatThrownBy(() -> r.ramExtent(r.sections().get(1))).hasMessageContaining("is not a memory section");
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> r.restoreMemory(ram, arena.allocate(PAGE)))
                    .hasMessage("memory 'ram' (ram) holds 65536 bytes, the target has 4096");
        }
    }
}
