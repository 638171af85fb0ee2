package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;

import vmm.core.memory.RamRegion;

/**
 * MOVS, CMPS, STOS, LODS, SCAS, INS and OUTS with REP/REPE/REPNE. A repeated
 * instruction runs at most {@link #CHUNK} elements per step and then stays at
 * its own address, so interrupts and kicks get in between as on hardware.
 * Forward MOVS and STOS on RAM copy or fill a page's worth at a time.
 */
final class StringOps {
    static final int CHUNK = 16384;

    private StringOps() {
    }

    private static int src(Insn d) {
        return d.segOverride >= 0 ? d.segOverride : Cpu.DS;
    }

    static void exec(Cpu c, Insn d) {
        int op = d.op;
        int size = (op & 1) == 0 ? 1 : d.opSize;
        int as = d.adSize;
        long am = Cpu.mask(as);
        boolean rep = d.rep != 0;
        long count = rep ? c.reg(Cpu.RCX, as) : 1;
        long step = c.df() ? -size : size;
        int done = 0;
        boolean cmp = op == 0xA6 || op == 0xA7 || op == 0xAE || op == 0xAF;
        while (count != 0 && done < CHUNK) {
            long si = c.reg(Cpu.RSI, as), di = c.reg(Cpu.RDI, as);
            if (rep && !c.df() && (op == 0xA4 || op == 0xA5 || op == 0xAA || op == 0xAB)) {
                long n = bulk(c, d, op, size, si, di, count);
                if (n > 0) {
                    if (op <= 0xA5) c.setReg(Cpu.RSI, as, (si + n * size) & am);
                    c.setReg(Cpu.RDI, as, (di + n * size) & am);
                    count -= n;
                    c.setReg(Cpu.RCX, as, count);
                    done += (int) n;
                    continue;
                }
            }
            switch (op) {
                case 0xA4, 0xA5 -> {
                    c.write(Cpu.ES, di, size, c.read(src(d), si, size));
                    c.setReg(Cpu.RSI, as, (si + step) & am);
                    c.setReg(Cpu.RDI, as, (di + step) & am);
                }
                case 0xA6, 0xA7 -> {
                    long a = c.read(src(d), si, size), b = c.read(Cpu.ES, di, size);
                    Alu.op(c, 7, a, b, size);
                    c.setReg(Cpu.RSI, as, (si + step) & am);
                    c.setReg(Cpu.RDI, as, (di + step) & am);
                }
                case 0xAA, 0xAB -> {
                    c.write(Cpu.ES, di, size, c.reg(Cpu.RAX, size));
                    c.setReg(Cpu.RDI, as, (di + step) & am);
                }
                case 0xAC, 0xAD -> {
                    c.setReg(Cpu.RAX, size, c.read(src(d), si, size));
                    c.setReg(Cpu.RSI, as, (si + step) & am);
                }
                default -> {
                    Alu.op(c, 7, c.reg(Cpu.RAX, size), c.read(Cpu.ES, di, size), size);
                    c.setReg(Cpu.RDI, as, (di + step) & am);
                }
            }
            done++;
            if (!rep) break;
            count = (count - 1) & am;
            c.setReg(Cpu.RCX, as, count);
            if (cmp && c.zf() != (d.rep == 0xF3)) break;
        }
        if (!rep || count == 0 || (cmp && c.zf() != (d.rep == 0xF3))) {
            Executor.next(c, d);
        } else {
            c.machine.endBlock = true;
        }
    }

    /** Copies or fills up to the end of the current page on both sides, on RAM only; the elements done, or 0. */
    private static long bulk(Cpu c, Insn d, int op, int size, long si, long di, long count) {
        if (c.codeBits != 64 && c.protectedMode()) return 0; // keep the limit checks exact: element by element
        long dLin = c.linear(Cpu.ES, di, size, true);
        long room = (4096 - (dLin & 0xFFF)) / size;
        long sLin = 0;
        if (op <= 0xA5) {
            sLin = c.linear(src(d), si, size, false);
            room = Math.min(room, (4096 - (sLin & 0xFFF)) / size);
        }
        long n = Math.min(room, count);
        if (c.codeBits != 64) {
            n = Math.min(n, (c.segLimit[Cpu.ES] - di + 1) / size);
            if (op <= 0xA5) n = Math.min(n, (c.segLimit[src(d)] - si + 1) / size);
        }
        if (n < 2) return 0;
        boolean user = c.cpl == 3;
        long dPa = c.mmu.translate(dLin, Mmu.WRITE, user);
        RamRegion dr = c.mmu.phys.wholePage(dPa & -4096L);
        if (dr == null || dr.readOnly() || c.mmu.phys.code.isCode(dPa >>> 12)) return 0;
        MemorySegment dst = dr.segment().asSlice(dPa - dr.guestBase(), n * size);
        if (op <= 0xA5) {
            long sPa = c.mmu.translate(sLin, Mmu.READ, user);
            RamRegion sr = c.mmu.phys.wholePage(sPa & -4096L);
            if (sr == null) return 0;
            if (sr == dr && Math.abs(sPa - dPa) < n * size) return 0; // overlapping: element order matters
            MemorySegment.copy(sr.segment(), sPa - sr.guestBase(), dst, 0, n * size);
        } else if (size == 1) {
            dst.fill((byte) c.reg(Cpu.RAX, 1));
        } else {
            long v = c.reg(Cpu.RAX, size);
            for (long k = 0; k < n; k++) PhysicalMemory.put(dst, k * size, size, v);
        }
        return n;
    }

    /** INS and OUTS, one port access per element as KVM does them. */
    static void io(Cpu c, Insn d) {
        int op = d.op;
        int size = (op & 1) == 0 ? 1 : Math.min(d.opSize, 4);
        int as = d.adSize;
        long am = Cpu.mask(as);
        boolean rep = d.rep != 0;
        long count = rep ? c.reg(Cpu.RCX, as) : 1;
        long step = c.df() ? -size : size;
        int port = (int) c.reg(Cpu.RDX, 2);
        SystemOps.checkIo(c, port, size);
        int done = 0;
        while (count != 0 && done < CHUNK) {
            if (op <= 0x6D) {
                long di = c.reg(Cpu.RDI, as);
                // Fault before the port is read: a device read can have side effects a restart would repeat.
                long lin = c.linear(Cpu.ES, di, size, true);
                c.mmu.translate(lin, Mmu.WRITE, c.cpl == 3);
                if (((int) lin & 0xFFF) + size > 4096) c.mmu.translate(lin + size - 1, Mmu.WRITE, c.cpl == 3);
                long v = c.machine.portRead(port, size);
                c.write(Cpu.ES, di, size, v);
                c.setReg(Cpu.RDI, as, (di + step) & am);
            } else {
                long si = c.reg(Cpu.RSI, as);
                long v = c.read(src(d), si, size);
                c.setReg(Cpu.RSI, as, (si + step) & am);
                if (rep) c.setReg(Cpu.RCX, as, (count - 1) & am);
                c.machine.portWrite(port, size, v);
            }
            done++;
            if (!rep) break;
            count = (count - 1) & am;
            c.setReg(Cpu.RCX, as, count);
        }
        if (!rep || count == 0) Executor.next(c, d);
        else c.machine.endBlock = true;
    }
}
