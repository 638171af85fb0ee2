package vmm.emu.internal.jit;

import static java.lang.constant.ConstantDescs.CD_Object;
import static java.lang.constant.ConstantDescs.CD_Throwable;
import static java.lang.constant.ConstantDescs.CD_boolean;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_long;
import static java.lang.constant.ConstantDescs.CD_void;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;
import java.lang.reflect.AccessFlag;

import vmm.emu.internal.cpu.Block;
import vmm.emu.internal.cpu.Insn;

/**
 * Turns the leading run of translatable instructions of a {@link Block} into the bytes of a class implementing
 * {@code TranslatedBlock}, for a hidden class in the CPU's package. Guest registers live in JVM locals for the
 * whole block and go back to the {@code Cpu} at every exit; the arithmetic flags stay the interpreter's lazy flags
 * (the same {@code Alu} helpers record them, so HotSpot folds what the block never reads); memory goes through
 * {@code Cpu.read/write} with the segment checks and the software TLB. A block whose last instruction jumps back to
 * its first loops inside the method while the budget lasts and nothing wants the run loop (a kick, an interrupt,
 * a write to its code, a serializing access). A fault anywhere writes the registers back, sets RIP to the faulting
 * instruction and rethrows, so the interpreter's exception delivery sees exactly its own state. Stateless.
 */
final class Translator {
    static final String PACKAGE = "vmm.emu.internal.cpu";
    private static final ClassDesc CD_CPU = ClassDesc.of(PACKAGE, "Cpu");
    private static final ClassDesc CD_BLOCK = ClassDesc.of(PACKAGE, "Block");
    private static final ClassDesc CD_MACHINE = ClassDesc.of(PACKAGE, "Machine");
    private static final ClassDesc CD_ALU = ClassDesc.of(PACKAGE, "Alu");
    private static final ClassDesc CD_SHIFTS = ClassDesc.of(PACKAGE, "Shifts");
    private static final ClassDesc CD_TRANSLATED = ClassDesc.of(PACKAGE, "TranslatedBlock");
    private static final ClassDesc CD_LONGS = CD_long.arrayType();
    private static final MethodTypeDesc MT_RUN = MethodTypeDesc.of(CD_long, CD_CPU, CD_BLOCK, CD_long);
    private static final MethodTypeDesc MT_READ = MethodTypeDesc.of(CD_long, CD_int, CD_long, CD_int);
    private static final MethodTypeDesc MT_WRITE = MethodTypeDesc.of(CD_void, CD_int, CD_long, CD_int, CD_long);
    private static final MethodTypeDesc MT_ALU = MethodTypeDesc.of(CD_long, CD_CPU, CD_int, CD_long, CD_long, CD_int);
    private static final MethodTypeDesc MT_SHIFT = MethodTypeDesc.of(CD_long, CD_CPU, CD_int, CD_long, CD_int, CD_int);
    private static final MethodTypeDesc MT_IMUL = MethodTypeDesc.of(CD_long, CD_CPU, CD_long, CD_long, CD_int);
    private static final MethodTypeDesc MT_INCDEC = MethodTypeDesc.of(CD_long, CD_CPU, CD_long, CD_int);
    private static final MethodTypeDesc MT_LOGIC = MethodTypeDesc.of(CD_void, CD_CPU, CD_long, CD_int);
    private static final MethodTypeDesc MT_COND = MethodTypeDesc.of(CD_boolean, CD_int);
    private static final MethodTypeDesc MT_JUMP = MethodTypeDesc.of(CD_void, CD_long, CD_int);
    private static final MethodTypeDesc MT_INIT = MethodTypeDesc.of(CD_void);
    private static final MethodTypeDesc MT_PUSH = MethodTypeDesc.of(CD_void, CD_long, CD_int);
    private static final MethodTypeDesc MT_POP = MethodTypeDesc.of(CD_long, CD_int);

    // Local variable slots of run(Cpu c, Block b, long budget).
    private static final int C = 1, B = 2, BUDGET = 3, RIP0 = 5, COUNT = 7, AT = 9, IDX = 10, SERIAL0 = 11,
            XRIP = 13, XK = 15, T0 = 16, T1 = 18, EX = 20, REG0 = 21;

    private Translator() {
    }

    /**
     * The instructions of {@code insns} (decoded for {@code codeBits}-bit code) from the first that this
     * translator handles, or 0 when it handles not even the first.
     */
    static int translatable(Insn[] insns, int codeBits) {
        int n = 0;
        while (n < insns.length && supported(insns[n], codeBits)) n++;
        return n;
    }

    /** Whether {@code d} is one of the forms this translator compiles (others end the translated run). */
    static boolean supported(Insn d, int codeBits) {
        if (d.lock) return false;
        int op = d.op;
        boolean mem = d.hasModrm && d.mod != 3;
        if (op < 0x40 && (op & 7) < 6) return true;
        if (op >= 0x40 && op <= 0x4F) return codeBits != 64;
        if (op >= 0x70 && op <= 0x7F || op >= 0x180 && op <= 0x18F) return true;
        if (op >= 0x50 && op <= 0x5F || op >= 0x140 && op <= 0x14F || op >= 0x190 && op <= 0x19F) return true;
        return switch (op) {
            case 0x80, 0x81, 0x83, 0x84, 0x85, 0x88, 0x89, 0x8A, 0x8B, 0xE9, 0xEB -> true;
            case 0x1B6, 0x1B7, 0x1BE, 0x1BF, 0x68, 0x6A, 0x98, 0x99, 0xA8, 0xA9, 0xE8, 0xC3 -> true;
            case 0x63 -> codeBits == 64;
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3, 0x69, 0x6B, 0x1AF -> true;
            case 0xF6, 0xF7 -> d.regOp < 2;
            case 0x8D -> mem;
            case 0x90 -> (d.rex & 1) == 0;
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> true;
            case 0xC6, 0xC7, 0xFE, 0xFF -> d.regOp < (op >= 0xFE ? 2 : 1);
            default -> false;
        };
    }

    /** Jcc, short or near: inside a block (a superblock's side exit) when its fall-through was decoded after it. */
    private static boolean conditional(int op) {
        return op >= 0x70 && op <= 0x7F || op >= 0x180 && op <= 0x18F;
    }

    /** Whether {@code d} is a control transfer (the last of a translated run, or a Jcc's side exit). */
    private static boolean isJump(int op) {
        return op >= 0x70 && op <= 0x7F || op >= 0x180 && op <= 0x18F || op == 0xE9 || op == 0xEB || op == 0xE8
                || op == 0xC3;
    }

    /** The class bytes for the first {@code count} (at least 1) instructions of {@code b}, named {@code name}. */
    static byte[] translate(Block b, int count, String name, ClassLoader loader) {
        Insn[] insns = b.insns();
        int bits = b.codeBits();
        ClassDesc self = ClassDesc.of(PACKAGE, name);
        ClassFile cf = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                ClassHierarchyResolver.ofClassLoading(loader).orElse(ClassHierarchyResolver.defaultResolver())));
        return cf.build(self, cb -> {
            cb.withFlags(AccessFlag.FINAL, AccessFlag.SYNTHETIC);
            cb.withInterfaceSymbols(CD_TRANSLATED);
            cb.withMethodBody("<init>", MT_INIT, ClassFile.ACC_PUBLIC,
                    code -> code.aload(0).invokespecial(CD_Object, "<init>", MT_INIT).return_());
            cb.withMethodBody("run", MT_RUN, ClassFile.ACC_PUBLIC,
                    code -> new Emitter(code, insns, count, bits).emit());
        });
    }

    /** The bytecode length of the {@code run} method in class bytes from {@link #translate}. */
    static int runMethodLength(byte[] bytes) {
        return ClassFile.of().parse(bytes).methods().stream().filter(m -> m.methodName().equalsString("run"))
                .findFirst().flatMap(m -> m.code()).map(c -> ((java.lang.classfile.attribute.CodeAttribute) c)
                        .codeLength()).orElseThrow();
    }

    /** Emits one block's method body. */
    private static final class Emitter {
        private final CodeBuilder code;
        private final Insn[] insns;
        private final int count, bits, regs;
        private final long[] offsets;
        private final boolean[] dirty = new boolean[16];
        private final Label top, exit;

        Emitter(CodeBuilder code, Insn[] insns, int count, int bits) {
            this.code = code;
            this.insns = insns;
            this.count = count;
            this.bits = bits;
            this.regs = bits == 64 ? 16 : 8;
            this.offsets = new long[count + 1];
            for (int i = 0; i < count; i++) offsets[i + 1] = offsets[i] + insns[i].len;
            this.top = code.newLabel();
            this.exit = code.newLabel();
        }

        void emit() {
            // Prologue: the entry RIP, the serialization count, the registers into locals.
            code.aload(C).getfield(CD_CPU, "rip", CD_long).lstore(RIP0);
            code.aload(C).getfield(CD_CPU, "machine", CD_MACHINE).getfield(CD_MACHINE, "serial", CD_long)
                    .lstore(SERIAL0);
            code.lconst_0().lstore(COUNT).iconst_0().istore(AT).iconst_0().istore(IDX);
            code.lconst_0().lstore(XRIP).iconst_0().istore(XK);
            for (int r = 0; r < regs; r++)
                code.aload(C).getfield(CD_CPU, "r", CD_LONGS).loadConstant(r).laload().lstore(reg(r));
            Label start = code.newLabel(), end = code.newLabel(), handler = code.newLabel();
            code.labelBinding(start);
            code.labelBinding(top);
            boolean ended = false;
            for (int i = 0; i < count; i++) {
                Insn d = insns[i];
                code.loadConstant(i).istore(IDX).loadConstant((int) offsets[i]).istore(AT);
                if (isJump(d.op)) {
                    boolean last = i == count - 1 || !conditional(d.op);
                    jump(d, i, last);
                    if (last) {
                        ended = true;
                        break;
                    }
                    continue; // a Jcc inside a superblock: not taken, the block goes on
                }
                instruction(d, i);
            }
            if (!ended) exitAt(count);
            code.labelBinding(end);
            // The shared exit: registers back, RIP, the count.
            code.labelBinding(exit);
            writeBack();
            code.aload(C).lload(XRIP).putfield(CD_CPU, "rip", CD_long);
            code.lload(COUNT).iload(XK).i2l().ladd().lreturn();
            // A fault (or anything a device threw): the state at the faulting instruction, then rethrow.
            code.labelBinding(handler);
            code.astore(EX);
            writeBack();
            code.aload(C);
            ripPlus(() -> code.iload(AT).i2l());
            code.putfield(CD_CPU, "rip", CD_long);
            code.aload(C).lload(COUNT).iload(IDX).i2l().ladd().putfield(CD_CPU, "jitRetired", CD_long);
            code.aload(EX).athrow();
            code.exceptionCatch(start, end, handler, CD_Throwable);
        }

        private int reg(int r) {
            return REG0 + 2 * r;
        }

        private void writeBack() {
            for (int r = 0; r < 16; r++)
                if (dirty[r]) code.aload(C).getfield(CD_CPU, "r", CD_LONGS).loadConstant(r).lload(reg(r)).lastore();
        }

        /** Pushes the code-size-wrapped sum of the entry RIP and what {@code delta} pushes (a long). */
        private void ripPlus(Runnable delta) {
            code.lload(RIP0);
            delta.run();
            code.ladd();
            wrap(bits / 8);
        }

        private void wrap(int size) {
            if (size == 2) code.loadConstant(0xFFFFL).land();
            else if (size == 4) code.loadConstant(0xFFFFFFFFL).land();
        }

        /** Leaves after {@code k} instructions of this pass, RIP at the next one. */
        private void exitAt(int k) {
            ripPlus(() -> code.loadConstant(offsets[k]));
            code.lstore(XRIP).loadConstant(k).istore(XK).goto_(exit);
        }

        /** After a memory write: leave before the next instruction if the write reached this block's code. */
        private void checkValid(int i) {
            Label ok = code.newLabel();
            code.aload(B).getfield(CD_BLOCK, "valid", CD_boolean).ifne(ok);
            exitAt(i + 1);
            code.labelBinding(ok);
        }

        // ---- operands ----

        /** Pushes register {@code n} (0-15, or 16-19 for AH..BH) zero-extended from {@code size} bytes. */
        private void readReg(int n, int size) {
            if (n >= 16) {
                code.lload(reg(n - 16)).loadConstant(8).lushr().loadConstant(0xFFL).land();
                return;
            }
            code.lload(reg(n));
            mask(size);
        }

        private void mask(int size) {
            if (size == 1) code.loadConstant(0xFFL).land();
            else if (size == 2) code.loadConstant(0xFFFFL).land();
            else if (size == 4) code.loadConstant(0xFFFFFFFFL).land();
        }

        /** Pops a long into register {@code n} as {@code setReg} would (upper bits kept for 8/16, cleared for 32). */
        private void writeReg(int n, int size) {
            if (n >= 16) {
                dirty[n - 16] = true;
                code.loadConstant(0xFFL).land().loadConstant(8).lshl();
                code.lload(reg(n - 16)).loadConstant(~0xFF00L).land().lor().lstore(reg(n - 16));
                return;
            }
            dirty[n] = true;
            if (size == 1 || size == 2) {
                long keep = size == 1 ? 0xFFL : 0xFFFFL;
                code.loadConstant(keep).land().lload(reg(n)).loadConstant(~keep).land().lor().lstore(reg(n));
            } else if (size == 4) {
                code.loadConstant(0xFFFFFFFFL).land().lstore(reg(n));
            } else {
                code.lstore(reg(n));
            }
        }

        private static int rmReg(Insn d, int size) {
            return size == 1 ? d.byteReg(d.rm) : d.rm;
        }

        private static int regReg(Insn d, int size) {
            return size == 1 ? d.byteReg(d.reg) : d.reg;
        }

        private static int seg(Insn d) {
            return d.segOverride >= 0 ? d.segOverride : d.defaultSeg;
        }

        /** Pushes the memory operand's offset, as {@code Cpu.ea}. */
        private void ea(Insn d, int i) {
            code.loadConstant(d.disp);
            if (d.base >= 0) code.lload(reg(d.base)).ladd();
            if (d.index >= 0) {
                code.lload(reg(d.index));
                if (d.scale != 0) code.loadConstant(d.scale).lshl();
                code.ladd();
            }
            if (d.ripRelative) code.lload(RIP0).ladd().loadConstant(offsets[i] + d.len).ladd();
            wrap(d.adSize);
        }

        private void read(Insn d, int size) {
            code.aload(C).loadConstant(seg(d)).lload(T0).loadConstant(size).invokevirtual(CD_CPU, "read", MT_READ);
        }

        /** Pops a long and writes it to the memory operand whose offset is in T0. */
        private void write(Insn d, int size) {
            code.lstore(T1).aload(C).loadConstant(seg(d)).lload(T0).loadConstant(size).lload(T1);
            code.invokevirtual(CD_CPU, "write", MT_WRITE);
        }

        /** Pushes the r/m operand (register, or memory with its offset left in T0). */
        private void rm(Insn d, int size, int i) {
            if (d.mod == 3) {
                readReg(rmReg(d, size), size);
            } else {
                ea(d, i);
                code.lstore(T0);
                read(d, size);
            }
        }

        /** Pops a long into the r/m operand; for memory, the offset must be in T0 already unless {@code fresh}. */
        private void setRm(Insn d, int size, int i, boolean fresh) {
            if (d.mod == 3) {
                writeReg(rmReg(d, size), size);
                return;
            }
            if (fresh) {
                code.lstore(T1);
                ea(d, i);
                code.lstore(T0).lload(T1);
            }
            write(d, size);
            checkValid(i);
        }

        // ---- instructions ----

        private void alu(int which, int size) {
            // Stack: dst, src -> Alu.op(c, which, dst, src, size); c and which go underneath first.
            code.loadConstant(size).invokestatic(CD_ALU, "op", MT_ALU);
        }

        /** ALU op {@code which} with an r/m destination and a source {@code src} pushes. */
        private void aluRm(Insn d, int which, int size, int i, Runnable src) {
            code.aload(C).loadConstant(which);
            rm(d, size, i);
            src.run();
            alu(which, size);
            if (which == 7) code.pop2();
            else setRm(d, size, i, false);
        }

        /** RSP's local to the Cpu, for the stack helpers, which read and write {@code c.r[RSP]}. */
        private void spOut() {
            code.aload(C).getfield(CD_CPU, "r", CD_LONGS).loadConstant(4).lload(reg(4)).lastore();
        }

        private void spIn() {
            code.aload(C).getfield(CD_CPU, "r", CD_LONGS).loadConstant(4).laload().lstore(reg(4));
            dirty[4] = true;
        }

        /** Pops a long and pushes it on the guest stack ({@code Cpu.push}). */
        private void push(int size) {
            code.lstore(T1);
            spOut();
            code.aload(C).lload(T1).loadConstant(size).invokevirtual(CD_CPU, "push", MT_PUSH);
            spIn();
        }

        /** Pushes the value popped from the guest stack ({@code Cpu.pop}); RSP moves before anything else can fault. */
        private void pop(int size) {
            spOut();
            code.aload(C).loadConstant(size).invokevirtual(CD_CPU, "pop", MT_POP).lstore(T1);
            spIn();
            code.lload(T1);
        }

        private void instruction(Insn d, int i) {
            int op = d.op, os = d.opSize;
            if (op < 0x40) {
                int which = op >>> 3;
                switch (op & 7) {
                    case 0 -> aluRm(d, which, 1, i, () -> readReg(regReg(d, 1), 1));
                    case 1 -> aluRm(d, which, os, i, () -> readReg(regReg(d, os), os));
                    case 2, 3 -> {
                        int size = (op & 7) == 2 ? 1 : os;
                        code.aload(C).loadConstant(which);
                        readReg(regReg(d, size), size);
                        rm(d, size, i);
                        alu(which, size);
                        if (which == 7) code.pop2();
                        else writeReg(regReg(d, size), size);
                    }
                    default -> {
                        int size = (op & 7) == 4 ? 1 : os;
                        code.aload(C).loadConstant(which);
                        readReg(0, size);
                        code.loadConstant(d.imm);
                        alu(which, size);
                        if (which == 7) code.pop2();
                        else writeReg(0, size);
                    }
                }
                return;
            }
            if (op >= 0x40 && op <= 0x4F) {
                code.aload(C);
                readReg(op & 7, os);
                code.loadConstant(os).invokestatic(CD_ALU, op < 0x48 ? "inc" : "dec", MT_INCDEC);
                writeReg(op & 7, os);
                return;
            }
            if (op >= 0x50 && op <= 0x5F) {
                int r = (op & 7) | (d.rex & 1) << 3;
                if (op < 0x58) {
                    readReg(r, os);
                    push(os);
                } else {
                    pop(os);
                    writeReg(r, os);
                }
                return;
            }
            if (op >= 0x140 && op <= 0x14F) { // CMOVcc: the 32-bit form clears the high half either way
                Label no = code.newLabel(), done = code.newLabel();
                rm(d, os, i);
                code.lstore(T1).aload(C).loadConstant(op & 15).invokevirtual(CD_CPU, "cond", MT_COND).ifeq(no);
                code.lload(T1);
                writeReg(d.reg, os);
                code.goto_(done).labelBinding(no);
                if (os == 4) {
                    readReg(d.reg, 4);
                    writeReg(d.reg, 4);
                }
                code.labelBinding(done);
                return;
            }
            if (op >= 0x190 && op <= 0x19F) { // SETcc
                code.aload(C).loadConstant(op & 15).invokevirtual(CD_CPU, "cond", MT_COND).i2l();
                setRm(d, 1, i, true);
                return;
            }
            switch (op) {
                case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3 -> { // group 2, as Shifts.shift
                    int size = (op & 1) == 0 ? 1 : os;
                    code.aload(C).loadConstant(d.regOp);
                    rm(d, size, i);
                    if (op <= 0xC1) code.loadConstant((int) d.imm);
                    else if (op <= 0xD1) code.loadConstant(1);
                    else {
                        readReg(1, 1);
                        code.l2i();
                    }
                    code.loadConstant(size).invokestatic(CD_SHIFTS, "shift", MT_SHIFT);
                    setRm(d, size, i, false);
                }
                case 0x69, 0x6B, 0x1AF -> { // IMUL r, r/m(, imm), as Alu.imul
                    code.aload(C);
                    if (op == 0x1AF) {
                        readReg(d.reg, os);
                        rm(d, os, i);
                    } else {
                        rm(d, os, i);
                        code.loadConstant(d.imm);
                    }
                    code.loadConstant(os).invokestatic(CD_ALU, "imul", MT_IMUL);
                    writeReg(d.reg, os);
                }
                case 0x68, 0x6A -> {
                    code.loadConstant(d.imm);
                    push(os);
                }
                case 0x63 -> { // MOVSXD
                    rm(d, 4, i);
                    code.loadConstant(32).lshl().loadConstant(32).lshr();
                    writeReg(d.reg, os);
                }
                case 0x98 -> {
                    int half = os / 2, s = 64 - half * 8;
                    readReg(0, half);
                    code.loadConstant(s).lshl().loadConstant(s).lshr();
                    writeReg(0, os);
                }
                case 0x99 -> {
                    int s = 64 - os * 8;
                    readReg(0, os);
                    code.loadConstant(s).lshl().loadConstant(s).lshr().loadConstant(63).lshr();
                    writeReg(2, os);
                }
                case 0xA8, 0xA9 -> {
                    int size = op == 0xA8 ? 1 : os;
                    code.aload(C);
                    readReg(0, size);
                    code.loadConstant(d.imm).land();
                    mask(size);
                    code.loadConstant(size).invokestatic(CD_ALU, "logic", MT_LOGIC);
                }
                case 0xF6, 0xF7 -> {
                    int size = op == 0xF6 ? 1 : os;
                    code.aload(C);
                    rm(d, size, i);
                    code.loadConstant(d.imm).land();
                    if (size == 8) code.loadConstant(-1L).land();
                    else mask(size);
                    code.loadConstant(size).invokestatic(CD_ALU, "logic", MT_LOGIC);
                }
                case 0x80, 0x81, 0x83 -> {
                    int size = op == 0x80 ? 1 : os;
                    aluRm(d, d.regOp, size, i, () -> code.loadConstant(d.imm));
                }
                case 0x84, 0x85 -> {
                    int size = op == 0x84 ? 1 : os;
                    code.aload(C);
                    rm(d, size, i);
                    readReg(regReg(d, size), size);
                    code.land().loadConstant(size).invokestatic(CD_ALU, "logic", MT_LOGIC);
                }
                case 0x88, 0x89 -> {
                    int size = op == 0x88 ? 1 : os;
                    readReg(regReg(d, size), size);
                    setRm(d, size, i, true);
                }
                case 0x8A, 0x8B -> {
                    int size = op == 0x8A ? 1 : os;
                    rm(d, size, i);
                    writeReg(regReg(d, size), size);
                }
                case 0x8D -> {
                    ea(d, i);
                    writeReg(d.reg, os);
                }
                case 0x90 -> {
                }
                case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 -> {
                    code.loadConstant(d.imm);
                    writeReg(d.byteReg((op & 7) | (d.rex & 1) << 3), 1);
                }
                case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> {
                    code.loadConstant(d.imm);
                    writeReg((op & 7) | (d.rex & 1) << 3, os);
                }
                case 0xC6, 0xC7 -> {
                    code.loadConstant(d.imm);
                    setRm(d, op == 0xC6 ? 1 : os, i, true);
                }
                case 0xFE, 0xFF -> {
                    int size = op == 0xFE ? 1 : os;
                    code.aload(C);
                    rm(d, size, i);
                    code.loadConstant(size).invokestatic(CD_ALU, d.regOp == 0 ? "inc" : "dec", MT_INCDEC);
                    setRm(d, size, i, false);
                }
                case 0x1B6, 0x1B7, 0x1BE, 0x1BF -> {
                    int size = (op & 1) == 0 ? 1 : 2;
                    rm(d, size, i);
                    if (op >= 0x1BE) {
                        int s = 64 - size * 8;
                        code.loadConstant(s).lshl().loadConstant(s).lshr();
                    }
                    writeReg(d.reg, os);
                }
                default -> throw new IllegalArgumentException("not translatable: " + d.hex());
            }
        }

        /**
         * A control transfer: the block's last instruction (Jcc, JMP, CALL rel, RET), or ({@code last} false) a Jcc
         * inside a superblock, which leaves when taken and otherwise falls through to the code emitted next.
         */
        private void jump(Insn d, int i, boolean last) {
            int op = d.op;
            if (op == 0xE8 || op == 0xC3) {
                if (op == 0xE8) { // CALL rel: push the return address, then jump (as the interpreter: unwrapped sum)
                    ripPlus(() -> code.loadConstant(offsets[i]));
                    code.loadConstant((long) d.len).ladd().lstore(T0);
                    code.lload(T0);
                    push(d.opSize);
                    code.aload(C).lload(T0).loadConstant(d.imm).ladd();
                } else {
                    pop(d.opSize);
                    code.lstore(T0).aload(C).lload(T0);
                }
                code.loadConstant(d.opSize).invokevirtual(CD_CPU, "jump", MT_JUMP);
                code.aload(C).getfield(CD_CPU, "rip", CD_long).lstore(XRIP).loadConstant(i + 1).istore(XK).goto_(exit);
                return;
            }
            long delta = offsets[i] + d.len + d.imm; // target - entry RIP
            Label notTaken = code.newLabel();
            boolean conditional = op != 0xE9 && op != 0xEB;
            if (conditional) code.aload(C).loadConstant(op & 15).invokevirtual(CD_CPU, "cond", MT_COND).ifeq(notTaken);
            if (delta == 0 && d.opSize * 8 == bits) {
                // Back to this block's first instruction: another pass unless the run loop is wanted.
                Label leave = code.newLabel();
                code.lload(COUNT).loadConstant((long) (i + 1)).ladd().lstore(COUNT);
                code.lload(BUDGET).lload(COUNT).lsub().loadConstant((long) count).lcmp().iflt(leave);
                code.aload(C).getfield(CD_CPU, "machine", CD_MACHINE).getfield(CD_MACHINE, "attention", CD_boolean)
                        .ifne(leave);
                code.aload(B).getfield(CD_BLOCK, "valid", CD_boolean).ifeq(leave);
                code.aload(C).getfield(CD_CPU, "machine", CD_MACHINE).getfield(CD_MACHINE, "serial", CD_long)
                        .lload(SERIAL0).lcmp().ifne(leave);
                code.goto_(top);
                code.labelBinding(leave);
                code.lload(RIP0).lstore(XRIP).iconst_0().istore(XK).goto_(exit);
            } else {
                // From the instruction's own (wrapped) RIP, as the interpreter computes it.
                code.aload(C);
                ripPlus(() -> code.loadConstant(offsets[i]));
                code.loadConstant((long) d.len + d.imm).ladd().loadConstant(d.opSize);
                code.invokevirtual(CD_CPU, "jump", MT_JUMP);
                code.aload(C).getfield(CD_CPU, "rip", CD_long).lstore(XRIP).loadConstant(i + 1).istore(XK).goto_(exit);
            }
            if (conditional) {
                code.labelBinding(notTaken);
                if (last) exitAt(i + 1); // else the emitter goes on with the fall-through instruction
            }
        }
    }
}
