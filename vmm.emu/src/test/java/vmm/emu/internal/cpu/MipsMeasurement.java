package vmm.emu.internal.cpu;

import vmm.emu.internal.jit.Jit;

/**
 * Millions of guest instructions per second on a register loop and on a
 * memory loop, interpreted and with the bytecode translator. A measurement to
 * run by hand (prints, asserts nothing):
 * {@code java -cp <test and main classes, vmm.core> vmm.emu.internal.cpu.MipsMeasurement}.
 */
public final class MipsMeasurement {
    private MipsMeasurement() {
    }

    public static void main(String[] args) {
        long iterations = args.length > 0 ? Long.parseLong(args[0]) : 50_000_000L;
        int n = (int) iterations;
        // mov ecx,n; l: add eax,ebx; xor edx,eax; inc esi; dec ecx; jnz l   (5 instructions per iteration)
        int[] register = {0xB9, n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, (n >>> 24), 0x01, 0xD8, 0x31, 0xC2, 0x46,
                0x49, 0x75, 0xF8};
        // mov ecx,n; l: mov eax,[edi]; add eax,ebx; mov [edi+4],eax; add edi,8; and edi,0xfff; dec ecx; jnz l (7)
        int[] memory = {0xB9, n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, (n >>> 24), 0x8B, 0x07, 0x01, 0xD8, 0x89,
                0x47, 0x04, 0x83, 0xC7, 0x08, 0x81, 0xE7, 0xFF, 0x0F, 0x00, 0x00, 0x49, 0x75, 0xED};
        for (int round = 0; round < 3; round++) {
            measure("register loop, interpreted", register, false);
            measure("memory loop,   interpreted", memory, false);
            measure("register loop, translated ", register, true);
            measure("memory loop,   translated ", memory, true);
        }
    }

    private static void measure(String what, int[] code, boolean translated) {
        try (Harness h = Harness.protected32(code)) {
            if (translated) h.phys.setTranslator(new Jit(Jit.DEFAULT_THRESHOLD));
            var bean = java.lang.management.ManagementFactory.getThreadMXBean();
            long t0 = System.nanoTime(), cpu0 = bean.getCurrentThreadCpuTime();
            long i0 = h.machine.instructions();
            h.machine.step(h.ports, h.mmio, Long.MAX_VALUE / 2);
            long ns = System.nanoTime() - t0, cpuNs = bean.getCurrentThreadCpuTime() - cpu0;
            long count = h.machine.instructions() - i0;
            // On a shared machine the thread's CPU time is the fairer base; both are printed.
            System.out.printf(
                    "%s: %,d instructions in %.2f s wall (%.1f MIPS), %.2f s CPU (%.1f MIPS per CPU-second)%n",
                    what, count, ns / 1e9, count * 1e3 / ns, cpuNs / 1e9, count * 1e3 / cpuNs);
        }
    }
}
