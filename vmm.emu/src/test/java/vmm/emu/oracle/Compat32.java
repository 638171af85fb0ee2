package vmm.emu.oracle;

import java.io.ByteArrayOutputStream;

/**
 * The machine code of {@link NativeX86}'s 32-bit path: a far return from 64-bit mode into Linux's
 * 32-bit user code segment (selector 0x23, which every x86-64 Linux with IA-32 emulation has),
 * where the instruction under test runs in compatibility mode, and a far return to the 64-bit
 * user code segment (0x33). Everything is addressed absolutely: the state block, its stack and
 * this code lie below 2 GiB. Hand-assembled; the listings are in {@link #entry64}, {@link #code32}
 * and {@link #return64}. {@link NativeX86} checks both selectors with LAR before it uses this.
 */
final class Compat32 {
    /** Linux x86-64's user selectors (arch/x86/include/asm/segment.h): 32-bit code, data, 64-bit code. */
    static final int USER32_CS = 0x23, USER_DS = 0x2B, USER_CS = 0x33;

    private Compat32() {}

    /**
     * The 64-bit entry, {@code run32(block)} with the block in RDI:
     * <pre>
     *   push rbx; push rbp; push r12; push r13; push r14; push r15
     *   mov [rdi+SAVED_RSP],rsp; mov [rdi+SAVED_DS],ds; mov [rdi+SAVED_ES],es
     *   lea rsp,[rdi+STACK_TOP]              a stack below 4 GiB for compatibility mode
     *   push 0x23; push code32; retfq        far return into the 32-bit code segment
     * </pre>
     */
    static byte[] entry64(long code32) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57});
        b.write(0x48); b.write(0x89); b.write(0xA7); d32(b, NativeX86.SAVED_RSP);   // REX.W 89 /4 [rdi+d32]
        b.write(0x8C); b.write(0x9F); d32(b, NativeX86.SAVED_DS);                   // 8C /3 (ds)
        b.write(0x8C); b.write(0x87); d32(b, NativeX86.SAVED_ES);                   // 8C /0 (es)
        b.write(0x48); b.write(0x8D); b.write(0xA7); d32(b, NativeX86.STACK_TOP);   // lea rsp,[rdi+d32]
        b.write(0x6A); b.write(USER32_CS);                                          // push imm8
        b.write(0x68); d32(b, code32);                                              // push imm32
        b.write(0x48); b.write(0xCB);                                               // retfq
        return b.toByteArray();
    }

    /**
     * The compatibility-mode code around the instruction, with the block at {@code block}:
     * <pre>
     *   mov eax,0x2b; mov ds,eax; mov es,eax; mov ss,eax       flat user data (64-bit DS/ES may be null)
     *   push dword [block+RFLAGS]; popfd
     *   mov eax,[block+0x00] ... mov edi,[block+0x38]           all but ESP
     *   &lt;the instruction under test&gt;
     *   mov [block+0x00],eax ... mov [block+0x38],edi
     *   pushfd; pop dword [block+RFLAGS]; cld
     *   push 0x33; push return64; retf                         back to 64-bit mode
     * </pre>
     */
    static byte[] code32(long block, byte[] insn, long return64) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0xB8); d32(b, USER_DS);                                             // mov eax,imm32
        b.writeBytes(new byte[] {(byte) 0x8E, (byte) 0xD8, (byte) 0x8E, (byte) 0xC0, (byte) 0x8E, (byte) 0xD0});
        b.write(0xFF); b.write(0x35); d32(b, block + NativeX86.RFLAGS);             // push dword [abs]: FF /6
        b.write(0x9D);                                                              // popfd
        for (int r = 0; r < 8; r++) {
            if (r != X86State.RSP) { b.write(0x8B); b.write(0x05 | r << 3); d32(b, block + NativeX86.GPR + 8L * r); }
        }
        b.writeBytes(insn);
        for (int r = 0; r < 8; r++) {
            if (r != X86State.RSP) { b.write(0x89); b.write(0x05 | r << 3); d32(b, block + NativeX86.GPR + 8L * r); }
        }
        b.write(0x9C);                                                              // pushfd
        b.write(0x8F); b.write(0x05); d32(b, block + NativeX86.RFLAGS);             // pop dword [abs]: 8F /0
        b.write(0xFC);                                                              // cld
        b.write(0x6A); b.write(USER_CS);                                            // push 0x33
        b.write(0x68); d32(b, return64);                                            // push imm32
        b.write(0xCB);                                                              // retf
        return b.toByteArray();
    }

    /**
     * Back in 64-bit mode:
     * <pre>
     *   mov rsp,[block+SAVED_RSP]; mov ds,[block+SAVED_DS]; mov es,[block+SAVED_ES]
     *   pop r15; pop r14; pop r13; pop r12; pop rbp; pop rbx; ret
     * </pre>
     * SS stays the flat user data selector, which is what Linux gives 64-bit processes.
     */
    static byte[] return64(long block) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {0x48, (byte) 0x8B, 0x24, 0x25}); d32(b, block + NativeX86.SAVED_RSP); // SIB: no base
        b.writeBytes(new byte[] {(byte) 0x8E, 0x1C, 0x25}); d32(b, block + NativeX86.SAVED_DS);
        b.writeBytes(new byte[] {(byte) 0x8E, 0x04, 0x25}); d32(b, block + NativeX86.SAVED_ES);
        b.writeBytes(new byte[] {0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, (byte) 0xC3});
        return b.toByteArray();
    }

    private static void d32(ByteArrayOutputStream b, long v) {
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("not below 2 GiB: 0x" + Long.toHexString(v));
        }
        b.write((int) v); b.write((int) (v >> 8)); b.write((int) (v >> 16)); b.write((int) (v >> 24));
    }
}
