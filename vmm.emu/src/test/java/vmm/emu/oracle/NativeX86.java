package vmm.emu.oracle;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Locale;

/**
 * The host CPU as an oracle: runs an instruction's bytes (or two instructions') natively in user
 * mode, in 64-bit code or, where the kernel has IA-32 emulation, in 32-bit code, from a state given
 * as registers, flags and a scratch buffer, and returns the state it leaves.
 *
 * <p>One anonymous mapping at a fixed low address (so the scratch buffer has the same linear
 * address natively and in an emulated guest with identity-mapped memory) holds the state block,
 * the scratch buffer and the 32-bit path's stack; its last page is replaced by a memfd page, which
 * is also mapped writable elsewhere, so no page is ever writable and executable at once. That page
 * holds the hand-assembled trampolines: the 64-bit one, listed in {@link #trampoline} (it saves the
 * callee-saved registers, loads RFLAGS and every general register but RSP from the block, runs the
 * bytes under test, stores them back, clears DF and returns), and the 32-bit one of
 * {@link Compat32}. They are called through downcall handles.
 *
 * <p>Only instructions that cannot fault may be run: a fault is a signal the JVM dies of. The
 * callers ({@link InstructionForms}) generate only user-mode forms with safe operands (memory
 * operands inside the scratch buffer, divisors that do not overflow), never touching RSP, segment
 * registers or control flow. Not thread-safe: one caller at a time.
 */
public final class NativeX86 implements AutoCloseable {
    /** Offsets in the state block. */
    static final int GPR = 0x000, RFLAGS = 0x080, SAVED_RSP = 0x088, SAVED_DS = 0x090, SAVED_ES = 0x098;
    static final int SCRATCH = 0x1000;
    /** The stack of the 32-bit path grows down from here (32 KiB: room for a signal frame). */
    static final int STACK_TOP = 0xA000;
    /** The mapping: state block and scratch, the 32-bit path's stack, then the code page. */
    static final int CODE = 0xA000, MAP_SIZE = 0xB000;
    /** In the code page: the 32-bit path's 64-bit entry, its 32-bit code, its way back. */
    static final int ENTRY32 = 0x400, CODE32 = 0x480, RETURN64 = 0x700;
    /** The most bytes under test: one instruction, a form of two (see {@link FlagChains}), an SSE program. */
    static final int MAX_INSN = 64;
    /** Low addresses tried for the mapping, in order: all below 2 GiB, above mmap_min_addr. */
    private static final long[] PLACES = {0x0010_0000L, 0x0100_0000L, 0x1000_0000L, 0x4000_0000L};
    /** The flags a case may set: the status flags and DF, never TF, IF or AC. */
    private static final long SETTABLE = Flags.COMPARED;

    private static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    private static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
    private static final int MAP_FIXED_NOREPLACE = 0x100000, MFD_CLOEXEC = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment errno = arena.allocate(CAPTURE);
    private final MethodHandle mmap, munmap;
    private final MemorySegment map;
    /** The code page's writable view; the executable one is at {@code map + CODE}. */
    private final MemorySegment code;
    private final MethodHandle entry;
    private final MethodHandle entry32;
    /** Why there is no 32-bit path, or null when the LAR checks found both segments usable. */
    private final String no32;
    private final int insnOffset;
    private byte[] loaded;
    private byte[] loaded32;

    private NativeX86() {
        Linker.Option capture = Linker.Option.captureCallState("errno");
        mmap = LINKER.downcallHandle(LIBC.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), capture);
        munmap = LINKER.downcallHandle(LIBC.find("munmap").orElseThrow(), FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        MethodHandle memfdCreate = LINKER.downcallHandle(LIBC.find("memfd_create").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), capture);
        MethodHandle ftruncate = LINKER.downcallHandle(LIBC.find("ftruncate").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), capture);
        MethodHandle close = LINKER.downcallHandle(LIBC.find("close").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        long base = -1;
        StringBuilder tried = new StringBuilder();
        for (long place : PLACES) {
            long got = call(mmap, place, (long) MAP_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0L);
            if (got == place) {
                base = got;
                break;
            }
            if (got != -1L) call(munmap, got, (long) MAP_SIZE); // an old kernel took it as a hint only
            tried.append(String.format(Locale.ROOT, " 0x%x (errno %d)", place, lastErrno()));
        }
        if (base == -1) {
            arena.close();
            throw new IllegalStateException("no low mapping for the native oracle at" + tried);
        }
        map = MemorySegment.ofAddress(base).reinterpret(MAP_SIZE);
        int fd = (int) call(memfdCreate, arena.allocateFrom("vmm-emu-oracle"), MFD_CLOEXEC);
        if (fd < 0) throw failure("memfd_create");
        long rw;
        try {
            if (call(ftruncate, fd, 0x1000L) != 0) throw failure("ftruncate");
            // the executable view replaces the last page of our own reservation
            long rx = call(mmap, base + CODE, 0x1000L, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0L);
            if (rx != base + CODE) {
                throw failure("mmap of the executable view");
            }
            rw = call(mmap, 0L, 0x1000L, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0L);
            if (rw == -1L) throw failure("mmap of the writable view");
        } finally {
            call(close, fd);
        }
        code = MemorySegment.ofAddress(rw).reinterpret(0x1000);
        byte[] prologue = prologue();
        insnOffset = prologue.length;
        MemorySegment.copy(prologue, 0, code, ValueLayout.JAVA_BYTE, 0, prologue.length);
        load(new byte[0]);
        entry = LINKER.downcallHandle(map.asSlice(CODE), FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG),
                Linker.Option.critical(false));
        byte[] entry64 = Compat32.entry64(base + CODE + CODE32);
        byte[] return64 = Compat32.return64(base);
        MemorySegment.copy(entry64, 0, code, ValueLayout.JAVA_BYTE, ENTRY32, entry64.length);
        MemorySegment.copy(return64, 0, code, ValueLayout.JAVA_BYTE, RETURN64, return64.length);
        entry32 = LINKER.downcallHandle(map.asSlice(CODE + ENTRY32), FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG),
                Linker.Option.critical(false));
        no32 = checkSegments();
    }

    /**
     * Whether the 32-bit path can run: LAR (which never faults in user mode) must find selector
     * 0x23 a present 32-bit DPL-3 code segment and 0x2b a present writable DPL-3 data segment.
     * A kernel without IA-32 emulation, or with it turned off, fails here, not with a fault.
     */
    private String checkSegments() {
        byte[] lar = {0x0F, 0x02, (byte) 0xC1};               // lar eax,ecx
        X86State in = new X86State();
        in.gpr[X86State.RCX] = Compat32.USER32_CS;
        X86State cs = run(lar, in);
        in.gpr[X86State.RCX] = Compat32.USER_DS;
        X86State ds = run(lar, in);
        long csRights = cs.gpr[X86State.RAX], dsRights = ds.gpr[X86State.RAX];
        // P (15), DPL (13-14), S (12), code (11), writable data (9), L (21), D (22)
        boolean csOk = (cs.rflags & Flags.ZF) != 0 && (csRights & 0xF800) == 0xF800 && (csRights & 1 << 21) == 0
                && (csRights & 1 << 22) != 0;
        boolean dsOk = (ds.rflags & Flags.ZF) != 0 && (dsRights & 0xFA00) == 0xF200;
        if (csOk && dsOk) return null;
        return String.format("no 32-bit user segments (LAR 0x23: %s 0x%x, 0x2b: %s 0x%x)",
                (cs.rflags & Flags.ZF) != 0 ? "valid" : "invalid", csRights,
                (ds.rflags & Flags.ZF) != 0 ? "valid" : "invalid", dsRights);
    }

    /** Why 32-bit code cannot be run natively here, or null when {@link #run32} works. */
    public String unavailable32Reason() {
        return no32;
    }

    private IllegalStateException failure(String what) {
        return new IllegalStateException(what + " for the native oracle: errno " + lastErrno());
    }

    /** Why the host cannot serve as the oracle, or null when it can (x86-64 Linux). */
    public static String unavailableReason() {
        String arch = System.getProperty("os.arch"), os = System.getProperty("os.name");
        if (!"amd64".equals(arch) && !"x86_64".equals(arch)) return "the host CPU is " + arch + ", not x86-64";
        if (!"Linux".equals(os)) return "the host is " + os + ", not Linux";
        return null;
    }

    /**
     * Maps the oracle. Throws {@link IllegalStateException} when the host is not x86-64 Linux
     * ({@link #unavailableReason}) or no low address is free.
     */
    public static NativeX86 open() {
        String why = unavailableReason();
        if (why != null) throw new IllegalStateException(why);
        return new NativeX86();
    }

    /** The linear address of the scratch buffer; memory operands of a case point into it. */
    public long scratchAddress() {
        return map.address() + SCRATCH;
    }

    /**
     * Runs {@code insn} (one instruction or two, at most 32 bytes, that cannot fault) from {@code in} and
     * returns the state after it. Flags other than the status flags and DF are not taken from
     * {@code in}; {@code in.gpr[RSP]} is ignored and the result's is 0.
     */
    public X86State run(byte[] insn, X86State in) {
        if (insn.length > MAX_INSN) throw new IllegalArgumentException("more than " + MAX_INSN + " bytes under test");
        load(insn);
        MemorySegment block = map;
        for (int r = 0; r < 16; r++) block.set(ValueLayout.JAVA_LONG, GPR + 8L * r, r == X86State.RSP ? 0 : in.gpr[r]);
        block.set(ValueLayout.JAVA_LONG, RFLAGS, (in.rflags & SETTABLE) | 0x2);
        MemorySegment.copy(in.scratch, 0, block, ValueLayout.JAVA_BYTE, SCRATCH, X86State.SCRATCH_SIZE);
        try {
            entry.invokeExact(block.address());
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        X86State out = new X86State();
        for (int r = 0; r < 16; r++) {
            out.gpr[r] = r == X86State.RSP ? 0 : block.get(ValueLayout.JAVA_LONG, GPR + 8L * r);
        }
        out.rflags = block.get(ValueLayout.JAVA_LONG, RFLAGS);
        MemorySegment.copy(block, ValueLayout.JAVA_BYTE, SCRATCH, out.scratch, 0, X86State.SCRATCH_SIZE);
        return out;
    }

    /**
     * Runs {@code insn} in 32-bit compatibility mode, from the low halves of {@code in}'s first
     * eight registers (all but ESP), and returns the state after it with the upper halves and
     * R8..R15 zero. Memory operands must use 32-bit addresses into the scratch buffer. Throws
     * {@link IllegalStateException} when {@link #unavailable32Reason} is not null.
     */
    public X86State run32(byte[] insn, X86State in) {
        if (no32 != null) throw new IllegalStateException(no32);
        if (insn.length > MAX_INSN) throw new IllegalArgumentException("more than " + MAX_INSN + " bytes under test");
        if (!Arrays.equals(insn, loaded32)) {
            byte[] c32 = Compat32.code32(map.address(), insn, map.address() + CODE + RETURN64);
            if (CODE32 + c32.length > RETURN64) throw new IllegalStateException("32-bit code overruns its space");
            MemorySegment.copy(c32, 0, code, ValueLayout.JAVA_BYTE, CODE32, c32.length);
            loaded32 = insn.clone();
        }
        MemorySegment block = map;
        for (int r = 0; r < 16; r++) {
            block.set(ValueLayout.JAVA_LONG, GPR + 8L * r, r < 8 && r != X86State.RSP ? in.gpr[r] & 0xFFFF_FFFFL : 0);
        }
        block.set(ValueLayout.JAVA_LONG, RFLAGS, (in.rflags & SETTABLE) | 0x2);
        MemorySegment.copy(in.scratch, 0, block, ValueLayout.JAVA_BYTE, SCRATCH, X86State.SCRATCH_SIZE);
        try {
            entry32.invokeExact(block.address());
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        X86State out = new X86State();
        for (int r = 0; r < 8; r++) {
            out.gpr[r] = r == X86State.RSP ? 0 : block.get(ValueLayout.JAVA_LONG, GPR + 8L * r) & 0xFFFF_FFFFL;
        }
        out.rflags = block.get(ValueLayout.JAVA_LONG, RFLAGS) & 0xFFFF_FFFFL;
        MemorySegment.copy(block, ValueLayout.JAVA_BYTE, SCRATCH, out.scratch, 0, X86State.SCRATCH_SIZE);
        return out;
    }

    /** Puts the instruction and the epilogue after the prologue, when they changed. */
    private void load(byte[] insn) {
        if (Arrays.equals(insn, loaded)) return;
        MemorySegment.copy(insn, 0, code, ValueLayout.JAVA_BYTE, insnOffset, insn.length);
        byte[] epilogue = epilogue();
        MemorySegment.copy(epilogue, 0, code, ValueLayout.JAVA_BYTE, insnOffset + insn.length, epilogue.length);
        loaded = insn.clone();
    }

    /**
     * The trampoline around the instruction under test, for the System V call {@code run(block)}
     * (block address in RDI):
     * <pre>
     *   push rbx; push rbp; push r12; push r13; push r14; push r15   callee-saved registers
     *   push rdi                               the block, found again after the instruction
     *   push qword [rdi+0x80]; popfq           RFLAGS from the block
     *   mov rax,[rdi+0x00] ... mov r15,[rdi+0x78]   every register but RSP; RDI last
     *   &lt;the instruction under test&gt;
     *   xchg rdi,[rsp]                         RDI = block, the instruction's RDI on the stack
     *   mov [rdi+0x00],rax ... mov [rdi+0x78],r15   every register but RSP and RDI
     *   pushfq; pop qword [rdi+0x80]           RFLAGS to the block
     *   pop rax; mov [rdi+0x38],rax            the instruction's RDI
     *   cld                                    the ABI wants DF clear on return
     *   pop r15; pop r14; pop r13; pop r12; pop rbp; pop rbx; ret
     * </pre>
     * None of the moves, XCHG, PUSHFQ or POP changes a flag.
     */
    static byte[] trampoline(byte[] insn) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(prologue());
        b.writeBytes(insn);
        b.writeBytes(epilogue());
        return b.toByteArray();
    }

    private static byte[] prologue() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x57});
        b.write(0xFF); b.write(0xB7); disp32(b, RFLAGS);  // push qword [rdi+disp32]: FF /6, mod 10 rm 111
        b.write(0x9D);                                     // popfq
        for (int r = 0; r < 16; r++) {
            if (r != X86State.RSP && r != X86State.RDI) movRdiDisp(b, 0x8B, r);
        }
        movRdiDisp(b, 0x8B, X86State.RDI);
        return b.toByteArray();
    }

    private static byte[] epilogue() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {0x48, (byte) 0x87, 0x3C, 0x24});   // xchg rdi,[rsp]: REX.W 87, mod 00 reg 111 rm SIB
        for (int r = 0; r < 16; r++) {
            if (r != X86State.RSP && r != X86State.RDI) movRdiDisp(b, 0x89, r);
        }
        b.write(0x9C);                                     // pushfq
        b.write(0x8F); b.write(0x87); disp32(b, RFLAGS);  // pop qword [rdi+disp32]: 8F /0
        b.write(0x58);                                     // pop rax: the instruction's RDI
        movRdiDisp(b, 0x89, X86State.RAX, GPR + 8 * X86State.RDI);
        b.write(0xFC);                                     // cld
        b.writeBytes(new byte[] {0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, (byte) 0xC3});
        return b.toByteArray();
    }

    /** {@code mov r64,[rdi+disp32]} (8B) or {@code mov [rdi+disp32],r64} (89) for register slot r. */
    private static void movRdiDisp(ByteArrayOutputStream b, int opcode, int r) {
        movRdiDisp(b, opcode, r, GPR + 8 * r);
    }

    private static void movRdiDisp(ByteArrayOutputStream b, int opcode, int r, int disp) {
        b.write(0x48 | (r >= 8 ? 0x04 : 0));               // REX.W, REX.R for r8..r15
        b.write(opcode);
        b.write(0x80 | (r & 7) << 3 | 7);                  // mod 10 (disp32), reg r, rm 111 (rdi)
        disp32(b, disp);
    }

    private static void disp32(ByteArrayOutputStream b, int d) {
        b.write(d); b.write(d >> 8); b.write(d >> 16); b.write(d >> 24);
    }

    /** Calls a libc function; those bound with errno capture get the capture segment first. */
    private long call(MethodHandle h, Object... args) {
        try {
            boolean captures = h.type().parameterCount() > args.length;
            Object[] all = new Object[args.length + (captures ? 1 : 0)];
            int i = 0;
            if (captures) all[i++] = errno;
            for (Object a : args) all[i++] = a;
            Object r = h.invokeWithArguments(all);
            return r instanceof Integer n ? n : (Long) r;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private int lastErrno() {
        return (int) ERRNO.get(errno, 0L);
    }

    @Override
    public void close() {
        call(munmap, code.address(), 0x1000L);
        call(munmap, map.address(), (long) MAP_SIZE);
        arena.close();
    }
}
