package vmm.benchmarks;

import java.io.ByteArrayOutputStream;

/**
 * The flat ROM image both VMMs run: 64 KiB mapped at 0xF0000 (what QEMU's
 * {@code -bios} does with a 64 KiB image, and what this VMM's side maps), with
 * the reset vector at offset 0xFFF0 jumping to a real-mode loop of
 * {@code iterations} {@code out} instructions to an unclaimed port, then a write
 * to {@link #EXIT_PORT} (QEMU's {@code isa-debug-exit} ends QEMU there) and HLT.
 */
public final class ExitLoopRom {
    public static final int SIZE = 0x10000;
    /** Where the image sits in guest-physical memory, and its real-mode segment. */
    public static final long BASE = 0xF0000;
    public static final int SEGMENT = 0xF000, RESET_OFFSET = 0xFFF0;
    /** The port the loop writes: nothing decodes it in either VMM, so each write is a plain exit. */
    public static final int LOOP_PORT = 0xE0;
    /** {@code -device isa-debug-exit,iobase=0xf4}: writing 0 there ends QEMU with status 1. */
    public static final int EXIT_PORT = 0xF4;
    /** QEMU's exit status after the guest writes 0 to {@link #EXIT_PORT}: (0 << 1) | 1. */
    public static final int QEMU_EXIT_STATUS = 1;

    private ExitLoopRom() {}

    /** The image for {@code iterations} loop exits (0 runs straight to the exit). */
    public static byte[] image(int iterations) {
        ByteArrayOutputStream code = new ByteArrayOutputStream();
        code.writeBytes(new byte[] {0x66, (byte) 0xB9});                       // mov ecx, iterations
        for (int i = 0; i < 4; i++) code.write(iterations >>> (8 * i));
        code.writeBytes(new byte[] {0x66, (byte) 0x85, (byte) 0xC9});          // test ecx, ecx
        code.writeBytes(new byte[] {0x74, 0x06});                              // jz done (skips the 6-byte loop)
        code.writeBytes(new byte[] {(byte) 0xE6, (byte) LOOP_PORT});           // loop: out LOOP_PORT, al
        code.writeBytes(new byte[] {0x66, 0x49});                              // dec ecx
        code.writeBytes(new byte[] {0x75, (byte) 0xFA});                       // jnz loop
        code.writeBytes(new byte[] {(byte) 0xB0, 0x00});                       // done: mov al, 0
        code.writeBytes(new byte[] {(byte) 0xE6, (byte) EXIT_PORT});           // out EXIT_PORT, al
        code.writeBytes(new byte[] {(byte) 0xF4});                             // halt: hlt
        code.writeBytes(new byte[] {(byte) 0xEB, (byte) 0xFD});                // jmp halt
        byte[] rom = new byte[SIZE];
        java.util.Arrays.fill(rom, (byte) 0xF4);
        byte[] c = code.toByteArray();
        System.arraycopy(c, 0, rom, 0, c.length);
        // Reset vector: jmp far F000:0000, into the copy of the image below 1 MiB.
        byte[] reset = {(byte) 0xEA, 0x00, 0x00, 0x00, (byte) 0xF0};
        System.arraycopy(reset, 0, rom, RESET_OFFSET, reset.length);
        return rom;
    }
}
