package vmm.core.boot;

import java.util.List;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.core.memory.GuestMemory;
import vmm.core.platform.PcPlatform;

/**
 * Any file given as the kernel ({@code -k}, or the launcher's kernel
 * option): an ELF with PT_LOAD and PT_NOTE headers and notes of any sizes,
 * a bzImage header with any setup size, protocol version, load flags,
 * alignment and init size. Loading it into a 32 MiB guest with an initrd
 * either succeeds inside guest RAM or is refused with the documented
 * {@link IllegalArgumentException}, never another exception.
 */
class KernelImageFuzzTest {
    private static final long RAM = 32 << 20;
    private static final GuestMemory MEMORY = PcPlatform.memory(RAM, null);
    private static final List<MemoryRange> MAP = PcPlatform.kernelMemoryMap(RAM);
    private static final byte[] INITRD = new byte[4096];

    @AfterAll
    static void release() {
        MEMORY.close();
    }

    @FuzzTest(maxDuration = "5m")
    void anyKernelFileLoadsOrIsRefused(byte[] kernel) {
        try {
            LinuxBoot.load(MEMORY, MAP, "fuzz-kernel", kernel, INITRD, "console=ttyS0 root=/dev/vda", 0xf0000);
        } catch (IllegalArgumentException refused) {
            // the documented answer to a file that is not a usable kernel
        }
    }
}
