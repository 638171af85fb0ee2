package device.virtio_net.protocol;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The transmit header check against what was negotiated, and the header's byte layout. */
class NetHeaderTest {
    static final long TSO = NetFeatures.bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN);

    @Test
    void encodesAndDecodesTheTwelveLittleEndianBytesOfTheSpecification() {
        NetHeader h = new NetHeader(1, 0x81, 0x0102, 0x0304, 0x0506, 0x0708, 0x090a);
        assertThat(h.toBytes()).containsExactly(1, 0x81, 2, 1, 4, 3, 6, 5, 8, 7, 0x0a, 9);
        assertThat(NetHeader.decode(h.toBytes())).isEqualTo(h);
    }

    @Test
    void acceptsSegmentationOnlyWhenNegotiatedWithChecksumAndASegmentSize() {
        NetHeader tso = new NetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0);
        assertThat(tso.checkTx(TSO, 60000, 1500)).isNull();
        assertThat(tso.checkTx(NetFeatures.bit(VIRTIO_NET_F_CSUM), 60000, 1500)).contains("not negotiated");
        assertThat(new NetHeader(0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 0, 0, 0).checkTx(TSO, 60000, 1500)).contains("NEEDS_CSUM");
        assertThat(new NetHeader(1, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0, 34, 16, 0).checkTx(TSO, 60000, 1500)).contains("gso_size 0");
        assertThat(new NetHeader(1, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16, 0).checkTx(TSO, 6000, 1500)).isNull();
        assertThat(new NetHeader(1, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 1400, 34, 6, 0).checkTx(TSO, 6000, 1500)).contains("not negotiated");
        assertThat(new NetHeader(1, VIRTIO_NET_HDR_GSO_TCPV6, 9000, 1448, 54, 16, 0).checkTx(TSO, 6000, 1500)).contains("hdr_len");
        assertThat(tso.checkTx(TSO, MAX_GSO_FRAME + 1, 1500)).contains("largest");
    }

    @Test
    void aChecksumRequestMustLieInsideTheFrame() {
        assertThat(new NetHeader(1, 0, 0, 0, 34, 16, 0).checkTx(TSO, 52, 1500)).isNull();
        assertThat(new NetHeader(1, 0, 0, 0, 34, 16, 0).checkTx(TSO, 51, 1500)).contains("outside");
        assertThat(new NetHeader(1, 0, 0, 0, 0xffff, 0xffff, 0).checkTx(TSO, 1500, 1500)).contains("outside");
    }

    @Test
    void aPlainFrameMayCarryTheMtuAndAVlanTag() {
        assertThat(NetHeader.PLAIN.checkTx(0, 1500 + 14 + 4, 1500)).isNull();
        assertThat(NetHeader.PLAIN.checkTx(0, 1500 + 14 + 5, 1500)).contains("MTU");
    }

    @Test
    void offeredOffloadsDropThoseWhosePrerequisiteIsMissing() {
        long noCsum = NetFeatures.offered(true, NetFeatures.bits(VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4), 1);
        assertThat(noCsum & NetFeatures.bit(VIRTIO_NET_F_HOST_TSO4)).isZero();
        assertThat(noCsum & NetFeatures.bit(VIRTIO_NET_F_GUEST_TSO4)).isNotZero();
        assertThat(NetFeatures.offered(false, NetFeatures.OFFLOADS, 1)).isEqualTo(NetFeatures.BASE);
        assertThat(NetFeatures.offered(false, 0, 4) & NetFeatures.bit(VIRTIO_NET_F_MQ)).isNotZero();
    }

    @Test
    void theFilterPassesBroadcastAndOwnAddressAndTableEntriesOnly() {
        MacAddress own = MacAddress.parse("52:54:00:00:00:01"), other = MacAddress.parse("52:54:00:00:00:02");
        MacAddress group = MacAddress.parse("33:33:00:00:00:01");
        RxFilter f = RxFilter.DEFAULT.withMode(VIRTIO_NET_CTRL_RX_PROMISC, false);
        assertThat(f.accepts(own, own)).isTrue();
        assertThat(f.accepts(other, own)).isFalse();
        assertThat(f.accepts(MacAddress.BROADCAST, own)).isTrue();
        assertThat(f.accepts(group, own)).isFalse();
        assertThat(f.withTable(java.util.List.of(other), java.util.List.of(group)).accepts(group, own)).isTrue();
        assertThat(f.withTable(java.util.List.of(other), java.util.List.of()).accepts(other, own)).isTrue();
        assertThat(f.withMode(VIRTIO_NET_CTRL_RX_NOUNI, true).accepts(own, own)).isFalse();
        assertThat(RxFilter.of(f.modeBits(), f.unicast(), f.multicast())).isEqualTo(f);
    }
}
