package vmm.kvm.scratch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.VmConfig;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.platform.PcPlatform;
import vmm.core.platform.PowerControl;
import vmm.kvm.guest.TestVm;

class SeaBiosScratchTest {
    @Test
    void boots() throws Exception {
        byte[] bios = Files.readAllBytes(Path.of("/usr/share/seabios/bios-256k.bin"));
        List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
        StringBuilder com1 = new StringBuilder();
        try (TestVm t = TestVm.create(new VmConfig(1, true), () -> PcPlatform.memory(64 << 20, bios))) {
            Machine m = new Machine(t.memory, t.vm.irqChip());
            PcPlatform p = PcPlatform.install(m, 1, new PowerControl() {
                public void powerOff(String how) { log.add("POWEROFF " + how); }
                public void reset(String how) { log.add("RESET " + how); }
            }, l -> { log.add(l); System.out.println("DBG " + l); });
            p.serialConsole(0x3f8);
            m.ioPorts().register("com1", 0x3f8, 8, new IoHandler() {
                public long read(long off, int size) { return off == 5 ? 0x60 : 0; }
                public void write(long off, int size, long v) { if (off == 0) synchronized (com1) { com1.append((char) v); } }
            });
            var runner = new vmm.core.hypervisor.VmRunner("seabios", t.vcpus, m.ioPorts(), m.mmio(), t.memory);
            runner.start();
            var r = runner.awaitStop(Duration.ofSeconds(20));
            System.out.println("STOP " + r.map(x -> x.describe()).orElse("still running"));
            if (r.isEmpty()) runner.stop();
            System.out.println("COM1: " + com1);
            System.out.println("POST 0x" + Integer.toHexString(p.postCode()));
        }
    }
}
