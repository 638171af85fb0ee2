package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import vmm.core.platform.PcMachine;

/**
 * What a machine reset puts back and what it keeps, seen by a boot ROM of
 * our own (no SeaBIOS in between): CMOS NVRAM survives, an MSR the first
 * boot wrote is back at its power-on value, the ROM's copy below 1 MiB,
 * which the first boot scribbled on, is the ROM's again, and the reset came
 * through System Control Port A (0x92), the path the other tests do not take.
 */
class ResetInPlaceTest {
    /** CMOS bytes the ROM writes: boots, SYSENTER_CS as found, the ROM-copy flag as found. */
    static final int BOOTS = 0x4f, MSR_SEEN = 0x4e, FLAG_SEEN = 0x4d;

    /**
     * Real-mode code, assembled with GNU as (listing checked with objdump):
     * count the boot in CMOS 0x4f; store the low byte of IA32_SYSENTER_CS
     * (rdmsr 0x174) in CMOS 0x4e and the byte at F000:0100 in CMOS 0x4d; on
     * the first boot write 0x55 to IA32_SYSENTER_CS, 1 to F000:0100 and reset
     * through port 0x92 bit 0; on the second, place the PM block at 0x600
     * (PMBA and PMREGMISC of 00:01.3, as firmware does) and power off (S5).
     */
    static final String CODE = "fab04fe670e471fec088c3b04fe67088d8e67166b9740100000f3288c7b04ee67088f8e671b800f08ed8a0000188c7"
            + "b04de67088f8e67180fb02731d66b97401000066b8550000006631d20f30c606000101b001e692f4ebfd66b8400b0080baf80c66ef"
            + "bafc0c66b80106000066ef66b8800b0080baf80c66efbafc0cb001eeba0406b80020eff4ebfd";

    static byte[] rom() {
        byte[] rom = new byte[64 << 10];               // mapped at 4 GiB - 64 KiB, copied to 0xF0000
        byte[] code = HexFormat.of().parseHex(CODE);
        System.arraycopy(code, 0, rom, 0, code.length);
        byte[] resetVector = {(byte) 0xEA, 0x00, 0x00, 0x00, (byte) 0xF0}; // jmp far F000:0000
        System.arraycopy(resetVector, 0, rom, 0xfff0, resetVector.length);
        return rom;
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void aResetKeepsCmosAndRamButPutsBackTheCpuAndTheRomCopy(String accel) throws Exception {
        BackEnd.require(accel);
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(16L << 20, 2, rom(), true), line -> { })) {
            vm.start();
            Optional<PcMachine.Exit> exit = vm.awaitExit(Duration.ofSeconds(60));
            assertThat(exit).isPresent();
            assertThat(exit.get().outcome()).as(exit.get().detail()).isEqualTo(PcMachine.Outcome.POWER_OFF);
            assertThat(vm.resets()).isEqualTo(1);
            assertThat(cmos(vm, BOOTS)).as("boots, counted in CMOS NVRAM across the reset").isEqualTo(2);
            assertThat(cmos(vm, MSR_SEEN)).as("IA32_SYSENTER_CS at the second boot: back to its power-on 0").isZero();
            assertThat(cmos(vm, FLAG_SEEN)).as("the ROM copy below 1 MiB at the second boot: the ROM's byte again").isZero();
            assertThat(vm.vm().memory().readU8(0xf0100)).isZero();
        }
    }

    private static int cmos(PcMachine vm, int index) {
        vm.machine().ioPorts().write(0x70, 1, index);
        return (int) vm.machine().ioPorts().read(0x71, 1);
    }
}
