package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.uart.internal.UartProvider;
import device.virtio_block.VirtioBlockProvider;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.platform.PcMachine;
import vmm.core.platform.VmSnapshot;
import vmm.core.snapshot.SnapshotReader;
import vmm.launcher.CountDisk;
import vmm.testing.HangGuard;
import vmm.core.device.DeviceState;

/**
 * A snapshot of a guest that counts in RAM and prints each count on COM1, taken with {@code --stop}'s semantics
 * (written, then the VM ends) and restored into a fresh machine of the same configuration in this JVM: COM1 of
 * the first run followed by COM1 of the second is 1, 2, 3, ... with no gap and no repeat, and the count in RAM
 * goes on from where it stood. Once with the counting code placed in RAM directly (no firmware, interrupts off),
 * once booted by Debian's SeaBIOS from a virtio-blk disk, its PIT interrupt running through the restore.
 */
public class SnapshotRestoreTest {
    private static final long RAM = 32L << 20;

    @TempDir
    Path dir;

    /** How the machine is made and its guest set going, the same before the snapshot and after. */
    private interface Guest {
        PcMachine create(Path console) throws Exception;

        /** Sets the guest going in a fresh machine (not called for the restored one). */
        default void boot(PcMachine vm) {
        }
    }

    @Test
    void aCounterPlacedInRamGoesOnInAFreshMachineWithNoGapAndNoRepeat() throws Exception {
        check(new Guest() {
            @Override
            public PcMachine create(Path console) throws Exception {
                PcMachine vm = PcMachine.create(new vmm.emu.internal.vm.EmuHypervisor(),
                        new PcMachine.Config(RAM, 1, null, true), line -> { });
                com1(vm, console);
                return vm;
            }

            @Override
            public void boot(PcMachine vm) {
                byte[] code = CountDisk.bootSector();
                vm.machine().memory().write(CountDisk.LOAD, code, 0, code.length);
                Vcpu v = vm.vcpus().getFirst();
                SpecialRegisters s = v.specialRegisters();
                for (SpecialRegisters.Seg seg : List.of(SpecialRegisters.Seg.CS, SpecialRegisters.Seg.DS,
                        SpecialRegisters.Seg.ES, SpecialRegisters.Seg.SS, SpecialRegisters.Seg.FS,
                        SpecialRegisters.Seg.GS))
                    s.segment(seg, Segment.realMode(0, seg == SpecialRegisters.Seg.CS));
                v.setSpecialRegisters(s);
                Registers r = v.registers();
                v.setRegisters(r.rip(CountDisk.LOAD).rflags(2));
            }
        });
    }

    @Test
    void aCounterBootedBySeaBiosGoesOnInAFreshMachineWithNoGapAndNoRepeat() throws Exception {
        assumeTrue(Files.isReadable(SeaBiosBootTest.SEABIOS), "no " + SeaBiosBootTest.SEABIOS
                + ": apt-get install seabios");
        Path disk = dir.resolve("count.img");
        CountDisk.write(disk);
        byte[] rom = Files.readAllBytes(SeaBiosBootTest.SEABIOS);
        check(console -> {
            PcMachine vm = PcMachine.create(new vmm.emu.internal.vm.EmuHypervisor(),
                    new PcMachine.Config(RAM, 1, rom, true), line -> { });
            vm.machine().plug("disk", "virtio-blk", SeaBiosBootTest.DISK_SLOT, Map.of("path", disk.toString()),
                    "virtio-blk", new VirtioBlockProvider());
            com1(vm, console);
            return vm;
        });
    }

    /** Starts {@code vm} at {@link CountDisk}'s boot sector, loaded straight into RAM (no firmware). */
    private static void startCountSector(PcMachine vm) {
        byte[] code = CountDisk.bootSector();
        vm.machine().memory().write(CountDisk.LOAD, code, 0, code.length);
        Vcpu v = vm.vcpus().getFirst();
        SpecialRegisters s = v.specialRegisters();
        s.segment(SpecialRegisters.Seg.CS, Segment.realMode(0, true));
        v.setSpecialRegisters(s);
        v.setRegisters(v.registers().rip(CountDisk.LOAD));
        vm.start();
    }

    @Test
    void aBackEndThatCannotSaveItsStateIsRefusedInOneLineAndTheVmRunsOnWithNoFileWritten() throws Exception {
        // A deterministic run on the software CPU, like the KVM back end, cannot save its state (yet).
        Path snap = dir.resolve("det.snap");
        try (PcMachine vm = PcMachine.create(new vmm.emu.internal.vm.EmuHypervisor(),
                new PcMachine.Config(RAM, 1, null, true, true), line -> { })) {
            com1(vm, dir.resolve("det.log"));
            startCountSector(vm);
            HangGuard.await(() -> count(vm) >= 3, "the guest counted to 3");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> VmSnapshot.write(vm, snap,
                            DeviceState.builder("test.config", 1).build(), "vmm test", true))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("deterministic")
                    .hasMessageNotContaining("\n");
            assertThat(vm.state()).isEqualTo(vmm.core.hypervisor.VmRunner.State.RUNNING);
            long at = count(vm);
            HangGuard.await(() -> count(vm) > at, "the guest counts on");
            assertThat(snap).doesNotExist();
            assertThat(dir.resolve("det.snap.tmp")).doesNotExist();
        }
    }

    @Test
    void aSnapshotAsksTheBackEndForItsStateOnceWithTheDevicesHeld() throws Exception {
        // The back end's state is taken once, after every device is held: a device's line cannot move after it.
        java.util.concurrent.atomic.AtomicInteger saves = new java.util.concurrent.atomic.AtomicInteger();
        List<Boolean> heldAtSave = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicReference<PcMachine> machine = new java.util.concurrent.atomic.AtomicReference<>();
        vmm.emu.internal.vm.EmuHypervisor emu = new vmm.emu.internal.vm.EmuHypervisor();
        vmm.core.hypervisor.Hypervisor counting = new vmm.core.hypervisor.Hypervisor() {
            @Override
            public vmm.core.hypervisor.Capabilities capabilities() {
                return emu.capabilities();
            }

            @Override
            public vmm.core.hypervisor.VirtualMachine createVm(vmm.core.memory.GuestMemory memory,
                                                               vmm.core.hypervisor.VmConfig config) {
                vmm.core.hypervisor.VirtualMachine real = emu.createVm(memory, config);
                return (vmm.core.hypervisor.VirtualMachine) java.lang.reflect.Proxy.newProxyInstance(
                        getClass().getClassLoader(), new Class<?>[] {vmm.core.hypervisor.VirtualMachine.class},
                        (proxy, method, args) -> {
                            if (method.getName().equals("saveState")) {
                                saves.incrementAndGet();
                                heldAtSave.add(held(machine.get()));
                            }
                            try {
                                return method.invoke(real, args);
                            } catch (java.lang.reflect.InvocationTargetException e) {
                                throw e.getCause();
                            }
                        });
            }
        };
        Path snap = dir.resolve("once.snap");
        try (PcMachine vm = PcMachine.create(counting, new PcMachine.Config(RAM, 1, null, true), line -> { })) {
            machine.set(vm);
            com1(vm, dir.resolve("once.log"));
            startCountSector(vm);
            HangGuard.await(() -> count(vm) >= 3, "the guest counted to 3");
            VmSnapshot.write(vm, snap, DeviceState.builder("test.config", 1).build(), "vmm test", false);
            assertThat(saves.get()).as("the back end's state taken").isEqualTo(1);
            assertThat(heldAtSave).as("COM1 held when it was taken").containsExactly(true);
            long at = count(vm);
            HangGuard.await(() -> count(vm) > at, "the guest counts on after the snapshot");
            assertThat(held(vm)).as("COM1 serves again").isFalse();
        }
    }

    /**
     * A boot ROM (at 4 GiB - 64 KiB, entered at F000:FFF0) that on its first boot marks CMOS 0x4F and resets the
     * machine through port 0x92, and on the second halts: {@code cli; mov al,4Fh; out 70h,al; in al,71h; test al,al;
     * jnz halt; mov al,4Fh; out 70h,al; mov al,1; out 71h,al; mov al,1; out 92h,al; hlt; jmp $-1; halt: hlt; jmp $-1}.
     */
    private static byte[] resettingRom() {
        byte[] rom = new byte[64 << 10];
        byte[] code = java.util.HexFormat.of().parseHex("fab04fe670e47184c0750fb04fe670b001e671b001e692f4ebfdf4ebfd");
        System.arraycopy(code, 0, rom, 0, code.length);
        byte[] resetVector = {(byte) 0xEA, 0x00, 0x00, 0x00, (byte) 0xF0}; // jmp far F000:0000
        System.arraycopy(resetVector, 0, rom, 0xfff0, resetVector.length);
        return rom;
    }

    @Test
    void aSnapshotAskedForDuringAGuestResetWaitsForTheResetAndTouchesNothingBeforeItEnds() throws Exception {
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1),
                release = new java.util.concurrent.CountDownLatch(1);
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        // A device whose reset takes as long as the test wants: the guest's reset is under way until released.
        vmm.core.device.DeviceProvider slow = context -> new vmm.core.device.BusDevice() {
            @Override public List<vmm.core.device.BusRange> ranges() {
                return List.of(vmm.core.device.BusRange.ports("slow", 0x5a0, 8));
            }
            @Override public long read(int range, long offset, int size) { return 0; }
            @Override public void write(int range, long offset, int size, long value) { }
            @Override public void start() { }
            @Override public void pause() { events.add("pause"); }
            @Override public void resume() { events.add("resume"); }
            @Override public void stop() { }
            @Override public void reset() {
                events.add("reset-begin");
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                events.add("reset-end");
            }
            @Override public DeviceState saveState() {
                events.add("save");
                return DeviceState.builder("test.slow-reset", 1).build();
            }
            @Override public void restoreState(DeviceState state) { }
        };
        Path snap = dir.resolve("reset.snap");
        try (PcMachine vm = PcMachine.create(new vmm.emu.internal.vm.EmuHypervisor(),
                new PcMachine.Config(RAM, 1, resettingRom(), true), line -> { })) {
            vm.machine().plug("slow", "test.slow-reset", null, Map.of(), "slow", slow);
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread snapshot;
            try {
                vm.start();
                assertThat(entered.await(HangGuard.BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS))
                        .as("the guest's reset reached the device").isTrue();
                snapshot = Thread.ofPlatform().name("snapshot").start(() -> {
                    try {
                        VmSnapshot.write(vm, snap, DeviceState.builder("test.config", 1).build(), "vmm test", false);
                    } catch (Throwable e) {
                        failed.set(e);
                    }
                });
                // Waiting for the reset, not blocked on the device in the middle of it.
                HangGuard.await(() -> snapshot.getState() == Thread.State.WAITING, "the snapshot waits for the reset");
                assertThat(events).as("nothing taken while the reset is under way").containsExactly("reset-begin");
            } finally {
                release.countDown();
            }
            snapshot.join();
            assertThat(failed.get()).isNull();
            assertThat(events).as("the snapshot held the device after its reset")
                    .containsExactly("reset-begin", "reset-end", "pause", "save", "resume");
            assertThat(vm.resets()).isEqualTo(1);
            assertThat(snap).exists();
        }
    }

    /** Whether the machine's COM1 is quiesced: a second quiesce says so. */
    private static boolean held(PcMachine vm) {
        vmm.core.machine.DeviceInstance com1 = vm.machine().instances().getFirst();
        try {
            com1.quiesce();
        } catch (IllegalStateException e) {
            return e.getMessage().contains("quiesced already");
        }
        com1.unquiesce();
        return false;
    }

    private static void com1(PcMachine vm, Path console) {
        vm.machine().plug("com1", UartProvider.TYPE, null, Map.of("port", "com1", "backend", "log=" + console),
                UartProvider.TYPE, new UartProvider());
    }

    private void check(Guest guest) throws Exception {
        Path snap = dir.resolve("vm.snap"), before = dir.resolve("before.log"), after = dir.resolve("after.log");
        long atSnapshot;
        VmSnapshot.Written written;
        try (PcMachine a = guest.create(before)) {
            guest.boot(a);
            a.start();
            HangGuard.await(() -> count(a) >= 25, "the guest counted to 25");
            written = VmSnapshot.write(a, snap, DeviceState.builder("test.config", 1).build(), "vmm test", true);
            Optional<PcMachine.Exit> exit = a.awaitExit(HangGuard.BOUND);
            assertThat(exit).as("the snapshot ended the VM").isPresent();
            assertThat(exit.get().outcome()).isEqualTo(PcMachine.Outcome.STOPPED);
            atSnapshot = count(a);
        }
        assertThat(written.stopped()).isTrue();
        assertThat(written.ramBytes()).as("zero pages are not written").isLessThan(RAM / 2);
        try (PcMachine b = guest.create(after);
             FileChannel ch = FileChannel.open(snap, StandardOpenOption.READ)) {
            VmSnapshot.restore(b, SnapshotReader.open(ch));
            assertThat(count(b)).as("the count in RAM, before the restored VM runs").isEqualTo(atSnapshot);
            b.start();
            HangGuard.await(() -> count(b) >= atSnapshot + 25, "the restored guest counted 25 more");
            b.stop();
        }
        String first = Files.readString(before, StandardCharsets.US_ASCII);
        String second = Files.readString(after, StandardCharsets.US_ASCII);
        List<String> lines = counts(first + second);
        for (int i = 0; i < lines.size(); i++)
            assertThat(lines.get(i)).as("count %d on COM1: %s | %s", i + 1, tail(first), head(second))
                    .isEqualTo(Integer.toString(i + 1));
        assertThat(lines.size()).isGreaterThanOrEqualTo((int) atSnapshot + 20);
        assertThat(second).as("the restored VM printed, not only the first").isNotEmpty();
    }

    /**
     * The guest's counts in the text of COM1, the last (unfinished) one left out. SeaBIOS's own text comes first,
     * and the last of it ("Booting from Hard Disk...") its timer interrupt flushes among the first counts: after
     * that line, dots, carriage returns and empty lines are SeaBIOS's.
     */
    public static List<String> counts(String com1) {
        int boot = com1.lastIndexOf("Booting from Hard Disk");
        String after = boot < 0 ? com1 : com1.substring(boot + "Booting from Hard Disk".length());
        List<String> lines = new ArrayList<>(List.of(after.replace(".", "").replace("\r", "").split("\n", -1)));
        lines.removeLast();
        lines.removeIf(String::isEmpty);
        return lines;
    }

    private static long count(PcMachine vm) {
        return vm.machine().memory().readU32(CountDisk.COUNTER);
    }

    private static String tail(String s) {
        return s.substring(Math.max(0, s.length() - 20)).replace("\n", "\\n");
    }

    private static String head(String s) {
        return s.substring(0, Math.min(20, s.length())).replace("\n", "\\n");
    }
}
