package vmm.testing.guest;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny x86 assembler for test guests: one method per instruction form the
 * tests use, named after the assembly it emits, in 16-bit (real mode),
 * 32-bit (protected mode) or 64-bit (long mode) code. Addresses are absolute: {@code origin} is
 * where the code will sit in guest memory. Forward short jumps are fixed up
 * at {@link #bytes()}.
 */
public final class Asm {
    private final int bits;
    private final long origin;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Map<String, Long> labels = new HashMap<>();
    private final List<long[]> shortFixups = new ArrayList<>(); // {position, label index}
    private final List<String> fixupLabels = new ArrayList<>();

    private Asm(int bits, long origin) {
        this.bits = bits;
        this.origin = origin;
    }

    public static Asm real(long origin) {
        return new Asm(16, origin);
    }

    public static Asm protected32(long origin) {
        return new Asm(32, origin);
    }

    /** 64-bit code: default operand size 32, REX.W for 64. */
    public static Asm long64(long origin) {
        return new Asm(64, origin);
    }

    /** The guest address of the next byte. */
    public long here() {
        return origin + out.size();
    }

    public Asm label(String name) {
        labels.put(name, here());
        return this;
    }

    public long address(String label) {
        Long a = labels.get(label);
        if (a == null) throw new IllegalArgumentException("no label " + label);
        return a;
    }

    public Asm db(int... bytes) {
        for (int b : bytes) out.write(b);
        return this;
    }

    private Asm w(long v) { return db((int) v & 0xFF, (int) (v >> 8) & 0xFF); }

    private Asm d(long v) { return w(v).w(v >> 16); }

    /** An immediate or address of the code's natural width. */
    private Asm native_(long v) { return bits == 16 ? w(v) : d(v); }

    /** Operand-size prefix to get a {@code size}-byte operand (2 or 4) in this mode. */
    private Asm opsize(int size) {
        if ((bits == 16) != (size == 2)) db(0x66);
        return this;
    }

    public Asm movAl(int imm) { return db(0xB0, imm & 0xFF); }                 // mov al, imm8
    public Asm movAx(int imm) { return opsize(2).db(0xB8).w(imm); }            // mov ax, imm16
    public Asm movEax(long imm) { return opsize(4).db(0xB8).d(imm); }          // mov eax, imm32
    public Asm movCx(int imm) { return opsize(2).db(0xB9).w(imm); }            // mov cx, imm16
    public Asm movEcx(long imm) { return opsize(4).db(0xB9).d(imm); }          // mov ecx, imm32
    public Asm movDx(int imm) { return opsize(2).db(0xBA).w(imm); }            // mov dx, imm16
    public Asm movSi(long imm) { return db(0xBE).native_(imm); }               // mov (e)si, imm
    public Asm movDi(long imm) { return db(0xBF).native_(imm); }               // mov (e)di, imm
    public Asm movDsAx() { return db(0x8E, 0xD8); }                            // mov ds, ax
    public Asm movEsAx() { return db(0x8E, 0xC0); }                            // mov es, ax
    public Asm outImmAl(int port) { return db(0xE6, port); }                   // out imm8, al
    public Asm outImmAx(int port) { return opsize(2).db(0xE7, port); }         // out imm8, ax
    public Asm outDxAl() { return db(0xEE); }                                  // out dx, al
    public Asm outDxAx() { return opsize(2).db(0xEF); }                        // out dx, ax
    public Asm outDxEax() { return opsize(4).db(0xEF); }                       // out dx, eax
    public Asm inAlImm(int port) { return db(0xE4, port); }                    // in al, imm8
    public Asm inAxImm(int port) { return opsize(2).db(0xE5, port); }         // in ax, imm8
    public Asm inEaxDx() { return opsize(4).db(0xED); }                        // in eax, dx
    public Asm repOutsb() { return db(0xF3, 0x6E); }                           // rep outsb
    public Asm repInsb() { return db(0xF3, 0x6C); }                            // rep insb
    public Asm repOutsw() { return opsize(2).db(0xF3, 0x6F); }                 // rep outsw
    /** {@code mov [addr], ax} with a 16-bit offset (real mode, DS-relative). */
    public Asm movMemAx16(int addr) { return db(0xA3).w(addr); }
    /** {@code mov ax, [addr]} with a 16-bit offset (real mode, DS-relative). */
    public Asm movAxMem16(int addr) { return db(0xA1).w(addr); }
    /** {@code mov dword [addr], imm32} (32-bit mode, flat). */
    public Asm movMem32Imm(long addr, long imm) { return db(0xC7, 0x05).d(addr).d(imm); }
    /** {@code mov eax, [addr]} (32-bit mode, flat). */
    public Asm movEaxMem32(long addr) { return db(0xA1).d(addr); }
    /** {@code mov [addr], eax} (32-bit mode, flat). */
    public Asm movMem32Eax(long addr) { return db(0xA3).d(addr); }
    /** {@code inc dword [addr]} (32-bit mode, flat). */
    public Asm incMem32(long addr) { return db(0xFF, 0x05).d(addr); }
    /** {@code mov rax, imm64} (64-bit mode). */
    public Asm movRax(long imm) { return db(0x48, 0xB8).d(imm).d(imm >>> 32); }
    /** {@code mov [addr64], rax} (64-bit mode, moffs64). */
    public Asm movMem64Rax(long addr) { return db(0x48, 0xA3).d(addr).d(addr >>> 32); }
    public Asm hlt() { return db(0xF4); }
    public Asm cli() { return db(0xFA); }
    public Asm sti() { return db(0xFB); }
    public Asm iret() { return db(0xCF); }                                     // iret / iretd by mode
    public Asm ud2() { return db(0x0F, 0x0B); }
    public Asm intN(int vector) { return db(0xCD, vector); }                   // int imm8
    public Asm nop() { return db(0x90); }

    /** {@code jmp short label}, backward or forward. */
    public Asm jmp(String label) {
        db(0xEB);
        shortFixups.add(new long[] {out.size(), fixupLabels.size()});
        fixupLabels.add(label);
        return db(0);
    }

    /** {@code jmp $}: spin in place. */
    public Asm jmpSelf() { return db(0xEB, 0xFE); }

    public byte[] bytes() {
        byte[] b = out.toByteArray();
        for (long[] f : shortFixups) {
            int pos = (int) f[0];
            long target = address(fixupLabels.get((int) f[1]));
            long rel = target - (origin + pos + 1);
            if (rel < -128 || rel > 127) throw new IllegalStateException("short jump to " + fixupLabels.get((int) f[1]) + " out of range");
            b[pos] = (byte) rel;
        }
        return b;
    }
}
