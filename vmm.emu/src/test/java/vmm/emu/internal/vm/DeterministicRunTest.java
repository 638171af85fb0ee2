package vmm.emu.internal.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;

/**
 * A deterministic run ({@link VmConfig#deterministic()}) on the software CPU: vCPUs that race on shared memory,
 * each on its own host thread, interleave the same way on every run, and the time is the instruction count.
 */
class DeterministicRunTest {
    /**
     * Real-mode code at 0x200 that both vCPUs run: 20,000 times a non-atomic increment of the word at 0x500,
     * logging DL (the vCPU's mark) at 0x1000 + the old value; then the TSC to [DI] and HLT.
     * <pre>
     *     mov $20000, %cx
     * 1:  mov 0x500, %ax ; mov %ax, %bx ; inc %ax ; mov %ax, 0x500
     *     movb %dl, 0x1000(%bx)
     *     dec %cx ; jnz 1b
     *     rdtsc ; mov %eax, (%di) ; hlt
     * </pre>
     */
    private static final byte[] RACE = bytes(0xb9, 0x20, 0x4e, 0xa1, 0x00, 0x05, 0x89, 0xc3, 0x40, 0xa3, 0x00, 0x05,
            0x88, 0x97, 0x00, 0x10, 0x49, 0x75, 0xf0, 0x0f, 0x31, 0x66, 0x89, 0x05, 0xf4);
    private static final int ITERATIONS = 20_000;

    /**
     * Real-mode code: the TSC, 1,000 turns of {@code dec %cx; jnz}, the TSC again, their difference to 0x700.
     * <pre>
     *     rdtsc ; mov %eax, %esi ; mov $1000, %cx
     * 1:  dec %cx ; jnz 1b
     *     rdtsc ; sub %esi, %eax ; mov %eax, 0x700 ; hlt
     * </pre>
     */
    private static final byte[] TIMED_LOOP = bytes(0x0f, 0x31, 0x66, 0x89, 0xc6, 0xb9, 0xe8, 0x03, 0x49, 0x75, 0xfd,
            0x0f, 0x31, 0x66, 0x29, 0xf0, 0x66, 0xa3, 0x00, 0x07, 0xf4);

    @Test
    void twoVcpusRacingOnSharedMemoryInterleaveTheSameWayOnEveryRun() throws Exception {
        byte[] first = null;
        for (int run = 0; run < 5; run++) {
            byte[] memory = race();
            int log = 0x1000;
            int ones = 0, twos = 0, switches = 0;
            for (int i = 0; i < 2 * ITERATIONS; i++) {
                byte b = memory[log + i];
                if (b == 1) ones++;
                else if (b == 2) twos++;
                if (i > 0 && b != 0 && memory[log + i - 1] != 0 && b != memory[log + i - 1]) switches++;
            }
            // Both ran, in turns (not one after the other), and the racing increments lost some updates.
            assertThat(ones).as("iterations logged by vCPU 0").isPositive();
            assertThat(twos).as("iterations logged by vCPU 1").isPositive();
            assertThat(switches).as("turn changes seen in the log").isGreaterThan(1);
            int counter = (memory[0x500] & 0xff) | (memory[0x501] & 0xff) << 8;
            assertThat(counter).as("the racing counter").isLessThanOrEqualTo(2 * ITERATIONS);
            if (first == null) first = memory;
            else assertThat(Arrays.mismatch(memory, first)).as("first byte that differs from run 1 (-1: none)")
                    .isEqualTo(-1);
        }
    }

    @Test
    void theTimeStepsOneNanosecondPerRetiredInstruction() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, false, true))) {
            m.write(0x200, TIMED_LOOP, 0, TIMED_LOOP.length);
            Vcpu v = vm.createVcpu(0);
            realModeAt(v, 0x200, new Registers());
            assertThat(v.run(new IoPortBus(), new MmioBus())).isInstanceOf(VcpuExit.Halted.class);
            // Between the two RDTSCs: the first one, mov, mov and 1,000 times dec and jnz.
            assertThat(m.readU32(0x700)).isEqualTo(3 + 2 * 1000);
            assertThat(vm.guestNanos()).as("instructions retired in all").isEqualTo(3 + 2 * 1000 + 4);
        }
    }

    @Test
    void aVmThatRunsInRealTimeKeepsTheHostsPace() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, false))) {
            long before = vm.guestNanos();
            long host = System.nanoTime();
            while (System.nanoTime() - host < 1_000_000) Thread.onSpinWait();
            assertThat(vm.guestNanos() - before).as("guest time over a millisecond of host time")
                    .isGreaterThanOrEqualTo(1_000_000);
            assertThat(vm.guestWallClock().instant()).isAfter(EmuVm.DETERMINISTIC_EPOCH.plusSeconds(86_400 * 300));
        }
    }

    @Test
    void aDeterministicRunsDateStartsAtItsFixedEpoch() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, false, true))) {
            assertThat(vm.guestWallClock().instant()).isEqualTo(EmuVm.DETERMINISTIC_EPOCH);
        }
    }

    /** Runs {@link #RACE} on two vCPUs, each on its own thread, and returns the guest memory's first 64 KiB. */
    private static byte[] race() throws Exception {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(2, false, true));
             ExecutorService threads = Executors.newFixedThreadPool(2)) {
            m.write(0x200, RACE, 0, RACE.length);
            List<Future<VcpuExit>> exits = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Vcpu v = vm.createVcpu(i);
                realModeAt(v, 0x200, new Registers().set(Registers.Reg.RDX, i + 1).set(Registers.Reg.RDI, 0x600 + 4 * i));
                exits.add(threads.submit(() -> {
                    try {
                        return v.run(new IoPortBus(), new MmioBus());
                    } finally {
                        v.close(); // its turns are skipped from here on
                    }
                }));
            }
            for (Future<VcpuExit> e : exits) assertThat(e.get()).isInstanceOf(VcpuExit.Halted.class);
            byte[] out = new byte[0x10000];
            m.read(0, out, 0, out.length);
            return out;
        }
    }

    private static void realModeAt(Vcpu v, long rip, Registers r) {
        SpecialRegisters s = v.specialRegisters();
        s.segment(SpecialRegisters.Seg.CS, Segment.realMode(0, true));
        v.setSpecialRegisters(s);
        v.setRegisters(r.rip(rip));
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }
}
