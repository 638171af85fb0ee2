package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.VmConfig;

/** The bootstrap processor starts the second vCPU with INIT and SIPI through the back end's LAPIC. */
public interface SecondVcpuGuests extends GuestBackEnd {
    long LAPIC = 0xFEE0_0000L, BSP_CODE = 0x1000, AP_CODE = 0x9000;

    @Test
    default void anApStartedWithInitAndSipiRunsRealModeCodeAtTheSipiVector() throws Exception {
        try (GuestVm t = vm(new VmConfig(2, true))) {
            Ports bsp = new Ports(), ap = new Ports();
            t.ports.register("bsp", 0xE0, 1, bsp);
            t.ports.register("ap", 0xE1, 1, ap);
            Asm b = Asm.protected32(BSP_CODE)
                    .movMem32Imm(LAPIC + 0xF0, 0x1FF)              // SVR: enable the LAPIC
                    .movMem32Imm(LAPIC + 0x310, 1 << 24)           // ICR high: destination APIC ID 1
                    .movMem32Imm(LAPIC + 0x300, 0x4500)            // ICR low: INIT, assert
                    .movMem32Imm(LAPIC + 0x300, 0x4600 | (int) (AP_CODE >> 12)) // ICR low: SIPI, vector 0x09 -> 0x9000
                    .movAl(1).outImmAl(0xE0)                       // out 0xE0, al      ; BSP done
                    .cli().label("idle").hlt().jmp("idle");
            Asm a = Asm.real(AP_CODE)                              // the AP starts at CS 0x0900, IP 0
                    .movAl(0xA1).outImmAl(0xE1)                    // out 0xE1, al      ; AP alive
                    .cli().label("idle").hlt().jmp("idle");
            t.load(BSP_CODE, b.bytes());
            t.load(AP_CODE, a.bytes());
            t.protectedMode(t.vcpus.get(0), BSP_CODE, 0, 0);
            t.start();

            assertThat(bsp.next()).isEqualTo(1);
            assertThat(ap.next()).isEqualTo(0xA1);
            t.runner().stop();
            assertThat(t.vcpus.get(1).specialRegisters().segment(vmm.core.hypervisor.SpecialRegisters.Seg.CS).selector())
                    .isEqualTo(0x0900);
        }
    }
}
