package device.virtio_net.protocol;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The virtio_net_hdr a driver puts in front of every transmitted frame,
 * with any bytes, any frame length, any negotiated features and MTU: the
 * check either refuses the frame with a reason or accepts only what a back
 * end can act on safely (the checksum field and the headers to replicate
 * inside the frame, segmentation only when negotiated); decoding and
 * encoding are exact inverses.
 */
class NetHeaderFuzzTest {
    @FuzzTest(maxDuration = "5m")
    void anyTransmitHeaderIsCheckedBeforeUse(FuzzedDataProvider data) {
        long features = data.consumeLong();
        int mtu = data.consumeInt(68, 65535);
        int frameLength = data.consumeBoolean() ? data.consumeInt(0, 2000) : data.consumeInt(0, Integer.MAX_VALUE);
        byte[] raw = data.consumeBytes(VIRTIO_NET_HDR_SIZE);
        if (raw.length < VIRTIO_NET_HDR_SIZE) return;
        NetHeader h = NetHeader.decode(raw);
        assertThat(h.toBytes()).isEqualTo(raw);
        String why = h.checkTx(features, frameLength, mtu);
        if (why != null) return;
        assertThat(frameLength).isGreaterThanOrEqualTo(ETH_HLEN);
        if ((h.flags() & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) {
            assertThat(features & 1L << VIRTIO_NET_F_CSUM).isNotZero();
            assertThat((long) h.csumStart() + h.csumOffset() + 2).isLessThanOrEqualTo(frameLength);
        }
        if (h.isGso()) {
            assertThat(h.gsoSize()).isPositive();
            assertThat(h.hdrLen()).isLessThanOrEqualTo(frameLength);
            assertThat(frameLength).isLessThanOrEqualTo(MAX_GSO_FRAME);
        } else {
            assertThat(frameLength).isLessThanOrEqualTo(mtu + ETH_HLEN + VLAN_HLEN);
        }
    }
}
