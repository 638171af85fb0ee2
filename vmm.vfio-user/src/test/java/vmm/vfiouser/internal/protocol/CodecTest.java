package vmm.vfiouser.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.vfiouser.VfioUser.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import vmm.vfiouser.DeviceInfo;
import vmm.vfiouser.IrqInfo;
import vmm.vfiouser.RegionInfo;

/** Every payload encoded and decoded, and what a peer may get wrong refused by name. */
class CodecTest {
    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ProtocolException refusal(ThrowingCall c) {
        try {
            c.run();
        } catch (ProtocolException e) {
            return e;
        }
        throw new AssertionError("not refused");
    }

    private interface ThrowingCall {
        void run() throws ProtocolException;
    }

    @Test
    void headerRoundTripsAndUnsoundHeadersAreFatal() throws Exception {
        Message m = Message.command(0x1234, VFIO_USER_REGION_READ, new byte[] {1, 2, 3});
        byte[] wire = m.encode();
        assertThat(wire).hasSize(19);
        Message.Header h = Message.Header.decode(java.util.Arrays.copyOf(wire, 16));
        assertThat(h).isEqualTo(new Message.Header(0x1234, VFIO_USER_REGION_READ, 19, FLAGS_TYPE_COMMAND, 0));
        h.check(64);

        assertThat(refusal(() -> new Message.Header(1, 1, 15, 0, 0).check(64))).satisfies(e -> {
            assertThat(e.fatal()).isTrue();
            assertThat(e.getMessage()).contains("smaller than the 16-byte header");
        });
        assertThat(refusal(() -> new Message.Header(1, 1, 0xffff_ffffL, 0, 0).check(1 << 20)).getMessage()).contains("exceeds the limit");
        assertThat(refusal(() -> new Message.Header(1, 1, 16, 2, 0).check(64)).getMessage()).contains("neither command");
        assertThat(refusal(() -> new Message.Header(1, 1, 16, 1 << 9, 0).check(64)).getMessage()).contains("unknown header flags");
    }

    @Test
    void errorReplyIsTheHeaderOnlyWithTheErrno() {
        Message req = Message.command(7, VFIO_USER_DMA_MAP, new byte[32]);
        Message r = Message.errorReply(req, EEXIST);
        assertThat(r.encode()).hasSize(16);
        assertThat(r.isReply()).isTrue();
        assertThat(r.isError()).isTrue();
        assertThat(r.error()).isEqualTo(EEXIST);
        assertThat(r.id()).isEqualTo(7);
    }

    @Test
    void versionCarriesCapabilitiesAsJson() throws Exception {
        byte[] p = Codec.encodeVersion(0, 1, new Codec.Capabilities(16, 1 << 20, 4096, 64));
        assertThat(p[p.length - 1]).isZero();
        assertThat(new String(p, 4, p.length - 5, StandardCharsets.UTF_8)).contains("\"max_msg_fds\":16", "\"pgsizes\":4096");
        Codec.Version v = Codec.decodeVersion(p);
        assertThat(v).isEqualTo(new Codec.Version(0, 1, new Codec.Capabilities(16, 1 << 20, 4096, 64)));
        // No version data at all: the specification's defaults.
        assertThat(Codec.decodeVersion(new byte[] {0, 0, 1, 0}).capabilities()).isEqualTo(Codec.Capabilities.defaults());
        // What QEMU sends: nested migration capability, unknown members ignored.
        byte[] qemu = version("{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":1048576}}}");
        assertThat(Codec.decodeVersion(qemu).capabilities().maxMsgFds()).isEqualTo(8);
    }

    private static byte[] version(String json) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        return le(4 + j.length + 1).putShort((short) 0).putShort((short) 1).put(j).put((byte) 0).array();
    }

    @Test
    void malformedVersionDataIsRefused() {
        assertThat(refusal(() -> Codec.decodeVersion(new byte[3])).getMessage()).contains("at least 4");
        assertThat(refusal(() -> Codec.decodeVersion(version("{\"capabilities\":"))).getMessage()).contains("not valid JSON");
        assertThat(refusal(() -> Codec.decodeVersion(version("[1,2]"))).getMessage()).contains("not a JSON object");
        assertThat(refusal(() -> Codec.decodeVersion(version("{\"capabilities\":{\"max_msg_fds\":-3}}"))).getMessage())
                .contains("max_msg_fds must be a positive integer");
        assertThat(refusal(() -> Codec.decodeVersion(version("{\"capabilities\":{\"max_data_xfer_size\":\"big\"}}"))).getMessage())
                .contains("max_data_xfer_size");
        byte[] noNul = version("{}");
        assertThat(refusal(() -> Codec.decodeVersion(java.util.Arrays.copyOf(noNul, noNul.length - 1))).getMessage()).contains("NUL-terminated");
        String deep = "[".repeat(20) + "]".repeat(20);
        assertThat(refusal(() -> Codec.decodeVersion(version(deep))).getMessage()).contains("nested deeper");
        assertThat(refusal(() -> Json.parse(" ".repeat(Json.MAX_LENGTH + 1))).getMessage()).contains("exceeds");
    }

    @Test
    void dmaMapAndUnmapRoundTripAndCheckTheirFields() throws Exception {
        Codec.DmaMap m = new Codec.DmaMap(VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE, 0x2000, 0x10_0000, 0x4000);
        assertThat(Codec.decodeDmaMap(Codec.encodeDmaMap(m))).isEqualTo(m);
        Codec.DmaUnmap u = new Codec.DmaUnmap(0, 0x10_0000, 0x4000);
        assertThat(Codec.decodeDmaUnmap(Codec.encodeDmaUnmap(u))).isEqualTo(u);

        assertThat(refusal(() -> Codec.decodeDmaMap(new byte[31])).getMessage()).contains("expected 32");
        assertThat(refusal(() -> Codec.decodeDmaMap(Codec.encodeDmaMap(new Codec.DmaMap(4 | 1, 0, 0, 4096)))).getMessage()).contains("unknown flags");
        assertThat(refusal(() -> Codec.decodeDmaMap(Codec.encodeDmaMap(new Codec.DmaMap(1, 0, 0, 0)))).getMessage()).contains("out of range");
        assertThat(refusal(() -> Codec.decodeDmaMap(Codec.encodeDmaMap(new Codec.DmaMap(1, 0, Long.MAX_VALUE - 10, 4096)))).getMessage()).contains("out of range");
        assertThat(refusal(() -> Codec.decodeDmaMap(Codec.encodeDmaMap(new Codec.DmaMap(1, -4096, 0, 4096)))).getMessage()).contains("file offset");
        byte[] smallArgsz = Codec.encodeDmaMap(m);
        smallArgsz[0] = 8;
        assertThat(refusal(() -> Codec.decodeDmaMap(smallArgsz)).getMessage()).contains("argsz 8");
        assertThat(refusal(() -> Codec.decodeDmaUnmap(Codec.encodeDmaUnmap(new Codec.DmaUnmap(1, 0, 4096)))).getMessage()).contains("flags");
        assertThat(refusal(() -> Codec.decodeDmaUnmap(new byte[25])).getMessage()).contains("expected 24");
    }

    @Test
    void deviceRegionAndIrqInfoRoundTrip() throws Exception {
        Codec.decodeDeviceInfoRequest(Codec.encodeDeviceInfoRequest());
        DeviceInfo d = new DeviceInfo(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, 9, 5);
        assertThat(Codec.decodeDeviceInfo(Codec.encodeDeviceInfo(d))).isEqualTo(d);

        assertThat(Codec.decodeRegionInfoRequest(Codec.encodeRegionInfoRequest(7))).isEqualTo(7);
        RegionInfo r = new RegionInfo(4, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, 0x4000, 0, -1);
        assertThat(Codec.decodeRegionInfo(Codec.encodeRegionInfo(r), 4, -1)).isEqualTo(r);

        assertThat(Codec.decodeIrqInfoRequest(Codec.encodeIrqInfoRequest(2))).isEqualTo(2);
        IrqInfo i = new IrqInfo(2, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, 3);
        assertThat(Codec.decodeIrqInfo(Codec.encodeIrqInfo(i), 2)).isEqualTo(i);
    }

    @Test
    void infoMessagesWithBadSizesOrAnswersAboutSomethingElseAreRefused() {
        byte[] shortArgsz = le(16).putInt(4).array();
        assertThat(refusal(() -> Codec.decodeDeviceInfoRequest(shortArgsz)).getMessage()).contains("argsz 4");
        assertThat(refusal(() -> Codec.decodeDeviceInfoRequest(new byte[12])).getMessage()).contains("expected 16");
        assertThat(refusal(() -> Codec.decodeDeviceInfo(Codec.encodeDeviceInfo(new DeviceInfo(2, 100000, 5)))).getMessage()).contains("out of range");
        assertThat(refusal(() -> Codec.decodeRegionInfoRequest(new byte[16])).getMessage()).contains("expected 32");
        RegionInfo r = new RegionInfo(3, 1, 16, 0, -1);
        assertThat(refusal(() -> Codec.decodeRegionInfo(Codec.encodeRegionInfo(r), 4, -1)).getMessage()).contains("region 3 for a request about 4");
        assertThat(refusal(() -> Codec.decodeRegionInfo(Codec.encodeRegionInfo(new RegionInfo(4, 1, -1, 0, -1)), 4, -1)).getMessage()).contains("out of range");
        assertThat(refusal(() -> Codec.decodeIrqInfo(Codec.encodeIrqInfo(new IrqInfo(2, 1, 5000)), 2)).getMessage()).contains("count 5000");
        assertThat(refusal(() -> Codec.decodeIrqInfo(Codec.encodeIrqInfo(new IrqInfo(1, 1, 1)), 2)).getMessage()).contains("for a request about 2");
    }

    @Test
    void setIrqsNeedsOneDataAndOneActionAndMatchingDataOrDescriptors() throws Exception {
        int eventfdTrigger = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
        Codec.IrqSet s = Codec.decodeIrqSet(Codec.encodeIrqSet(eventfdTrigger, VFIO_PCI_MSIX_IRQ_INDEX, 1, 2, new byte[0]), 2);
        assertThat(s.index()).isEqualTo(VFIO_PCI_MSIX_IRQ_INDEX);
        assertThat(s.start()).isEqualTo(1);
        assertThat(s.count()).isEqualTo(2);
        assertThat(s.action()).isEqualTo(VFIO_IRQ_SET_ACTION_TRIGGER);
        // No descriptors: de-assign.
        assertThat(Codec.decodeIrqSet(Codec.encodeIrqSet(eventfdTrigger, 2, 0, 2, new byte[0]), 0).count()).isEqualTo(2);
        Codec.IrqSet b = Codec.decodeIrqSet(Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, 2, 0, 3, new byte[] {1, 0, 1}), 0);
        assertThat(b.bools()).containsExactly(1, 0, 1);

        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(eventfdTrigger, 2, 0, 2, new byte[0]), 1)).getMessage())
                .contains("1 eventfds for 2 vectors");
        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, 2, 0, 1, new byte[0]), 0)).getMessage())
                .contains("exactly one DATA_");
        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_NONE, 2, 0, 1, new byte[0]), 0)).getMessage())
                .contains("ACTION_");
        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, 2, 0, 1000, new byte[3]), 0)).getMessage())
                .contains("1000 bools");
        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, 2, 0, 1, new byte[0]), 1)).getMessage())
                .contains("without DATA_EVENTFD");
        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(eventfdTrigger, 2, -1, 2, new byte[0]), 0)).getMessage())
                .contains("out of range");
        assertThat(refusal(() -> Codec.decodeIrqSet(Codec.encodeIrqSet(eventfdTrigger, 2, Integer.MAX_VALUE, 2, new byte[0]), 0)).getMessage())
                .contains("out of range");
        byte[] lying = Codec.encodeIrqSet(eventfdTrigger, 2, 0, 1, new byte[0]);
        lying[0] = 99;
        assertThat(refusal(() -> Codec.decodeIrqSet(lying, 1)).getMessage()).contains("argsz 99");
        assertThat(refusal(() -> Codec.decodeIrqSet(new byte[10], 0)).getMessage()).contains("at least 20");
    }

    @Test
    void regionAccessesRoundTripWithinTheTransferLimit() throws Exception {
        byte[] read = Codec.encodeRegionAccess(0x3000, 4, 2, new byte[0]);
        Codec.RegionAccess a = Codec.decodeRegionRead(read, 1 << 20);
        assertThat(a).isEqualTo(new Codec.RegionAccess(0x3000, 4, 2));
        assertThat(Codec.decodeRegionReadReply(Codec.encodeRegionAccess(0x3000, 4, 2, new byte[] {5, 6}), a)).containsExactly(5, 6);
        Codec.RegionAccess w = Codec.decodeRegionWrite(Codec.encodeRegionAccess(8, 7, 3, new byte[] {1, 2, 3}), 1 << 20);
        assertThat(w).isEqualTo(new Codec.RegionAccess(8, 7, 3));
        Codec.decodeRegionWriteReply(Codec.encodeRegionAccess(8, 7, 3, new byte[0]), w);

        assertThat(refusal(() -> Codec.decodeRegionRead(Codec.encodeRegionAccess(0, 4, 4096, new byte[0]), 1024)).getMessage())
                .contains("count 4096 is not 1..1024");
        assertThat(refusal(() -> Codec.decodeRegionRead(Codec.encodeRegionAccess(0, 4, 0, new byte[0]), 1024)).getMessage()).contains("count 0");
        assertThat(refusal(() -> Codec.decodeRegionRead(Codec.encodeRegionAccess(-8, 4, 4, new byte[0]), 1024)).getMessage()).contains("offset");
        assertThat(refusal(() -> Codec.decodeRegionWrite(Codec.encodeRegionAccess(0, 4, 8, new byte[4]), 1024)).getMessage())
                .contains("count 8 but 4 bytes");
        assertThat(refusal(() -> Codec.decodeRegionReadReply(Codec.encodeRegionAccess(0x3000, 4, 2, new byte[] {5}), a)).getMessage())
                .contains("for a read of 2");
        assertThat(refusal(() -> Codec.decodeRegionReadReply(Codec.encodeRegionAccess(0x3004, 4, 2, new byte[2]), a)).getMessage())
                .contains("offset 0x3004");
    }
}
