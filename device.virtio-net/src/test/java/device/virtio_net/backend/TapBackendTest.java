package device.virtio_net.backend;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import device.virtio_net.protocol.NetFeatures;

/** The TAP's uapi numbers and the mapping of the guest's offloads to TUNSETOFFLOAD; the sharing rules of Backends. */
class TapBackendTest {
    @Test
    void ioctlNumbersAreThoseOfIfTunH() {
        // _IOW('T', 202, int), _IOW('T', 208, unsigned int), _IOW('T', 216, int)
        assertThat(TapBackend.TUNSETIFF).isEqualTo((1L << 30) | (4L << 16) | ('T' << 8) | 202);
        assertThat(TapBackend.TUNSETOFFLOAD).isEqualTo((1L << 30) | (4L << 16) | ('T' << 8) | 208);
        assertThat(TapBackend.TUNSETVNETHDRSZ).isEqualTo((1L << 30) | (4L << 16) | ('T' << 8) | 216);
    }

    @Test
    void guestOffloadsMapToTunFlagsAndNothingWithoutGuestChecksum() {
        long all = NetFeatures.bits(VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,
                VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6);
        assertThat(TapBackend.tunOffloads(all)).isEqualTo(0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40);
        assertThat(TapBackend.tunOffloads(all & ~NetFeatures.bit(VIRTIO_NET_F_GUEST_CSUM))).isZero();
        assertThat(TapBackend.tunOffloads(NetFeatures.bits(VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_ECN))).isEqualTo(0x01);
    }

    @Test
    void aSecondOpenOfTheSameResourceSharesItAndTheLastCloseReleasesIt() {
        BackendSpec spec = new BackendSpec.Tap("shared0");
        int[] opened = {0}, closed = {0};
        NetBackend real = new NetBackend() {
            @Override public int queuePairs() { return 1; }
            @Override public long offloadFeatures() { return 0; }
            @Override public void setReceiveOffloads(long n) { }
            @Override public boolean send(int p, java.lang.foreign.MemorySegment h, java.lang.foreign.MemorySegment... f) { return true; }
            @Override public int receive(int p, java.lang.foreign.MemorySegment b) { return 0; }
            @Override public boolean await(int p, boolean r, Waker w, long t) { return false; }
            @Override public String describe() { return "counted"; }
            @Override public void close() { closed[0]++; }
        };
        NetBackend a = Backends.open("a", spec, 1, () -> { opened[0]++; return real; });
        NetBackend b = Backends.open("b", spec, 1, () -> { opened[0]++; return real; });
        assertThatThrownBy(() -> Backends.open("c", spec, 2, () -> real)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("queue pairs");
        a.close();
        a.close();
        assertThat(closed[0]).isZero();
        b.close();
        assertThat(opened[0]).isEqualTo(1);
        assertThat(closed[0]).isEqualTo(1);
        assertThat(Backends.isOpen(spec)).isFalse();
    }
}
