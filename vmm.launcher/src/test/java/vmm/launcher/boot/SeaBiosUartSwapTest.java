package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.uart.internal.UartProvider;
import device.virtio_block.VirtioBlockProvider;
import vmm.core.machine.DeviceInstance;
import vmm.core.platform.PcMachine;
import vmm.launcher.internal.DemoDisk;

/**
 * The console swapped under a guest that prints: Debian's SeaBIOS boots our demo disk on the software CPU with
 * COM1 as a core device instance ({@link UartProvider}), once as it is and once while the UART is swapped over and
 * over, from the first instruction to the power-off. Both runs are deterministic ({@code deterministic=true}), so the guest prints the
 * same bytes; the peer on COM1's socket must receive them all, in order, in both.
 */
class SeaBiosUartSwapTest {
    @TempDir
    Path dir;

    @Test
    void seaBiosPrintsEveryByteInOrderWhileItsUartIsSwappedUnderIt() throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS), "no " + SeaBiosBootTest.SEABIOS + ": apt-get install seabios");
        Path disk = dir.resolve("boot.img");
        DemoDisk.write(disk);
        Run plain = boot(disk, false);
        Run swapped = boot(disk, true);
        assertThat(plain.console).contains("SeaBIOS (version").contains(DemoDisk.MESSAGE);
        int total = swapped.console.length();
        long midOutput = swapped.swappedAt.stream().filter(n -> n > 0 && n < total).distinct().count();
        assertThat(midOutput).as("swaps at distinct points of SeaBIOS's %d bytes of output", total).isGreaterThanOrEqualTo(3);
        assertThat(swapped.console).as("COM1 with %d swaps against COM1 without", swapped.swappedAt.size())
                .isEqualTo(plain.console);
    }

    /** What the peer got, and how much it had got at each swap. */
    private record Run(String console, java.util.List<Integer> swappedAt) {
    }

    private Run boot(Path disk, boolean swap) throws Exception {
        Path sock = dir.resolve(swap ? "swapped.sock" : "plain.sock");
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        AtomicInteger bytes = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        java.util.List<Integer> swappedAt = new java.util.ArrayList<>();
        try (BackEnd backEnd = BackEnd.open(BackEnd.EMU);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 1, Files.readAllBytes(SeaBiosBootTest.SEABIOS), false, true),
                     line -> { })) {
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk",
                    new VirtioBlockProvider());
            UartProvider provider = new UartProvider();
            DeviceInstance com1 = vm.machine().plug("com1", UartProvider.TYPE, null,
                    Map.of("port", "com1", "backend", "unix=" + sock), UartProvider.TYPE, provider);
            vm.platform().serialConsole(0x3f8);
            try (SocketChannel peer = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
                Thread reader = Thread.ofPlatform().start(() -> {
                    ByteBuffer b = ByteBuffer.allocate(4096);
                    try {
                        while (peer.read(b.clear()) >= 0) {
                            synchronized (got) {
                                got.write(b.array(), 0, b.position());
                            }
                            bytes.addAndGet(b.position());
                        }
                    } catch (IOException e) {
                        failure.set(e);
                    }
                });
                vm.start();
                Optional<PcMachine.Exit> exit = Optional.empty();
                long guard = System.nanoTime() + Duration.ofMinutes(5).toNanos();
                while (exit.isEmpty() && System.nanoTime() < guard) {
                    if (swap) {
                        // The guest waits while its UART is swapped and prints on until the peer has a byte more, so
                        // the swaps land all through the output however slow a swap is against the guest (free-running
                        // swaps landed at only 2 distinct points of a 0.7 s boot on a fast run).
                        vm.pause();
                        com1.swapTo(UartProvider.TYPE, provider);
                        int at = bytes.get();
                        swappedAt.add(at);
                        vm.resume();
                        while (bytes.get() == at && (exit = vm.awaitExit(Duration.ofMillis(1))).isEmpty()
                                && System.nanoTime() < guard) {
                            Thread.onSpinWait();
                        }
                        if (exit.isPresent()) break;
                    }
                    exit = vm.awaitExit(swap ? Duration.ZERO : Duration.ofMillis(200));
                }
                assertThat(exit).as("SeaBIOS powered the machine off").isPresent();
                assertThat(exit.get().outcome()).as(exit.get().detail()).isEqualTo(PcMachine.Outcome.POWER_OFF);
                com1.remove(); // the back end's writer flushes to the peer, then closes the socket
                reader.join();
            }
        }
        assertThat(failure.get()).isNull();
        synchronized (got) {
            return new Run(got.toString(StandardCharsets.ISO_8859_1), swappedAt);
        }
    }
}
