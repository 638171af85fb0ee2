package device.virtio_vsock;

import static device.virtio_vsock.protocol.VsockSpec.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;

import device.virtio_vsock.protocol.VsockHeader;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.VirtioDriver;

/** A guest driver's view of the device for tests: packets out through tx, packets in from rx. */
final class Guest {
    static final long CID = 3;
    static final int RX_BUFFERS = 16, RX_BUFFER = 4096;
    final VirtioDriver driver;
    final DriverQueue rx, tx, event;

    Guest(VirtioDriver driver) {
        this.driver = driver;
        this.rx = driver.queue(RX_QUEUE);
        this.tx = driver.queue(TX_QUEUE);
        this.event = driver.queue(EVENT_QUEUE);
        for (int i = 0; i < RX_BUFFERS; i++) rx.add(List.of(), RX_BUFFER);
        rx.kick();
    }

    static VsockHeader header(int op, long srcPort, long dstPort, long len, long flags, long bufAlloc, long fwdCnt) {
        return new VsockHeader(CID, VMADDR_CID_HOST, srcPort, dstPort, len, VIRTIO_VSOCK_TYPE_STREAM, op, flags,
                bufAlloc, fwdCnt);
    }

    /**
     * Sends a packet (header and payload in separate descriptors, as Linux does) and waits until the device
     * took it.
     */
    void send(VsockHeader h, byte[] payload) {
        int head = payload.length == 0 ? tx.add(List.of(h.encode())) : tx.add(List.of(h.encode(), payload));
        tx.kick();
        assertThat(tx.await(HangGuard.BOUND).head()).isEqualTo(head);
    }

    void send(int op, long srcPort, long dstPort) {
        send(header(op, srcPort, dstPort, 0, 0, 65536, 0), new byte[0]);
    }

    /** Sends raw bytes as one transmit chain. */
    void sendRaw(byte[]... pieces) {
        tx.add(List.of(pieces));
        tx.kick();
        tx.await(HangGuard.BOUND);
    }

    record Received(VsockHeader header, byte[] payload) {
        int op() { return header.op(); }
    }

    /** The next packet the device put in a receive buffer; the buffer goes back to the ring. */
    Received receive() {
        DriverQueue.Completion c = rx.await(HangGuard.BOUND);
        rx.add(List.of(), RX_BUFFER);
        rx.kick();
        assertThat(c.length()).isGreaterThanOrEqualTo(HEADER_SIZE);
        VsockHeader h = VsockHeader.decode(c.data());
        assertThat(c.length()).isEqualTo(HEADER_SIZE + h.len());
        return new Received(h, Arrays.copyOfRange(c.data(), HEADER_SIZE, c.length()));
    }

    /** The next packet that is not a CREDIT_UPDATE. */
    Received receiveSkippingCredit() {
        Received r;
        do r = receive(); while (r.op() == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
        return r;
    }
}
