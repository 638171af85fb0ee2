package vmm.vfiouser.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * What a hostile vfio-user peer can put on the wire, decoded by this
 * side's codec: message headers, and the payload of every command and
 * reply (version with its JSON capabilities, DMA map and unmap, device,
 * region and IRQ info, IRQ set with any number of fds, region reads and
 * writes and their replies). Each decodes into values inside the
 * protocol's limits or is refused with a {@link ProtocolException}, never
 * another exception; what decodes re-encodes to an equal value.
 */
class VfioUserCodecFuzzTest {
    @FuzzTest(maxDuration = "5m")
    void anyPeerPayloadDecodesOrIsRefused(FuzzedDataProvider data) {
        int which = data.consumeInt(0, 13);
        int fds = data.consumeInt(0, 10), index = data.consumeInt(-1, 12), maxCount = data.consumeInt(0, 1 << 20);
        byte[] p = data.consumeRemainingAsBytes();
        try {
            switch (which) {
                case 0 -> {
                    if (p.length >= 16) {
                        Message.Header h = Message.Header.decode(java.util.Arrays.copyOf(p, 16));
                        h.check(1 << 20);
                        assertThat(h.size()).isBetween(16L, 1L << 20);
                    }
                }
                case 1 -> {
                    Codec.Version v = Codec.decodeVersion(p);
                    Codec.Capabilities c = v.capabilities();
                    assertThat(c.maxMsgFds()).isNotNegative();
                    assertThat(c.maxDataXferSize()).isNotNegative();
                }
                case 2 -> {
                    Codec.DmaMap m = Codec.decodeDmaMap(p);
                    assertThat(Codec.decodeDmaMap(Codec.encodeDmaMap(m))).isEqualTo(m);
                }
                case 3 -> {
                    Codec.DmaUnmap u = Codec.decodeDmaUnmap(p);
                    assertThat(Codec.decodeDmaUnmap(Codec.encodeDmaUnmap(u))).isEqualTo(u);
                }
                case 4 -> Codec.decodeDeviceInfoRequest(p);
                case 5 -> Codec.decodeDeviceInfo(p);
                case 6 -> Codec.decodeRegionInfoRequest(p);
                case 7 -> Codec.decodeRegionInfo(p, index, fds > 5 ? -1 : fds);
                case 8 -> Codec.decodeIrqInfoRequest(p);
                case 9 -> Codec.decodeIrqInfo(p, index);
                case 10 -> {
                    Codec.IrqSet s = Codec.decodeIrqSet(p, fds);
                    assertThat(s.count()).isNotNegative();
                }
                case 11 -> {
                    Codec.RegionAccess a = Codec.decodeRegionRead(p, maxCount);
                    assertThat(a.count()).isBetween(0, maxCount);
                }
                case 12 -> {
                    Codec.RegionAccess a = Codec.decodeRegionWrite(p, maxCount);
                    assertThat(a.count()).isBetween(0, maxCount);
                }
                default -> {
                    Codec.RegionAccess a = new Codec.RegionAccess(index & 0xff, fds, maxCount & 0xfff);
                    if (data.consumeBoolean()) Codec.decodeRegionReadReply(p, a);
                    else Codec.decodeRegionWriteReply(p, a);
                }
            }
        } catch (ProtocolException refused) {
            // the documented answer to a malformed payload
        }
    }

    @FuzzTest(maxDuration = "5m")
    void anyVersionJson(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        Object parsed;
        try {
            parsed = Json.parse(text);
        } catch (ProtocolException refused) {
            return;
        }
        if (parsed instanceof Map<?, ?> m && m.keySet().stream().allMatch(String.class::isInstance)) {
            @SuppressWarnings("unchecked") Map<String, ?> object = (Map<String, ?>) m;
            String written = Json.write(object);
            // Numbers and escapes may come out longer than they went in, past what a peer may send.
            if (written.length() > Json.MAX_LENGTH) return;
            try {
                assertThat(Json.parse(written)).isEqualTo(parsed);
            } catch (ProtocolException e) {
                throw new AssertionError("what Json.write wrote does not parse: " + e.getMessage(), e);
            }
        }
    }
}
