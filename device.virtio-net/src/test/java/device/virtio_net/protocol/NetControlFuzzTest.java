package device.virtio_net.protocol;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The control queue's commands as a hostile driver sends them: any class,
 * command and payload (MAC tables with any counts, addresses, receive
 * modes, queue pair counts, announce acks), with any features negotiated
 * and resets in between. Every command is answered OK or ERR, and the
 * state stays one the data path can use: a unicast non-zero MAC, a queue
 * pair count the device has, MAC tables no longer than the spec's 64.
 */
class NetControlFuzzTest {
    private static final MacAddress CONFIGURED = MacAddress.parse("52:54:00:12:34:56");

    @FuzzTest(maxDuration = "5m")
    void anyControlCommandSequence(FuzzedDataProvider data) {
        int maxPairs = data.consumeInt(1, 8);
        NetCounters counters = new NetCounters();
        NetControl control = new NetControl(CONFIGURED, maxPairs, counters);
        control.setNegotiated(data.consumeLong());
        while (data.remainingBytes() > 0) {
            switch (data.consumeInt(0, 7)) {
                case 0 -> control.setNegotiated(data.consumeLong());
                case 1 -> control.reset(CONFIGURED);
                case 2 -> control.requestAnnounce();
                case 3 -> { // a MAC table command with counts that may lie about the payload
                    int uni = data.consumeInt(0, 70), multi = data.consumeInt(0, 70);
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 6 * (uni + multi))
                            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    b.putInt(data.consumeBoolean() ? uni : data.consumeInt());
                    b.put(data.consumeBytes(6 * uni));
                    b.position(4 + 6 * uni);
                    b.putInt(data.consumeBoolean() ? multi : data.consumeInt());
                    b.put(data.consumeBytes(6 * multi));
                    int length = data.consumeBoolean() ? b.capacity() : data.consumeInt(0, b.capacity());
                    byte[] payload = java.util.Arrays.copyOf(b.array(), length);
                    answered(control.execute(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, payload));
                }
                default -> answered(control.execute(data.consumeInt(0, 5), data.consumeInt(0, 6),
                        data.consumeBytes(data.consumeInt(0, 12))));
            }
            assertThat(control.activePairs()).isBetween(1, maxPairs);
            assertThat(control.mac().isMulticast()).isFalse();
            assertThat(control.mac().value()).isNotZero();
            assertThat(control.filter().unicast()).hasSizeLessThanOrEqualTo(RxFilter.MAC_TABLE_ENTRIES);
            assertThat(control.filter().multicast()).hasSizeLessThanOrEqualTo(RxFilter.MAC_TABLE_ENTRIES);
            control.accepts(MacAddress.of(java.util.Arrays.copyOf(data.consumeBytes(6), 6), 0));
        }
    }

    private static void answered(int ack) {
        assertThat(ack).isIn(VIRTIO_NET_OK, VIRTIO_NET_ERR);
    }
}
