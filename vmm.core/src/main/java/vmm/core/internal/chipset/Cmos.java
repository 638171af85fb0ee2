package vmm.core.internal.chipset;

import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

import vmm.core.bus.IoHandler;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The MC146818 RTC and CMOS NVRAM behind ports 0x70 (index; bit 7 masks
 * NMI) and 0x71 (data): the time from the host clock, in BCD 24-hour mode
 * unless the guest sets binary or 12-hour mode in status register B, and the
 * NVRAM fields firmware reads for the memory size and CPU count (the layout
 * SeaBIOS reads on QEMU). The update-in-progress bit always reads 0: the
 * time is read fresh from the host clock on every access, so there is no
 * update cycle for a reader to avoid. Thread-safe.
 */
public final class Cmos {
    public static final int PORT_INDEX = 0x70, PORT_DATA = 0x71;

    // Register map (MC146818A datasheet; IBM PC/AT NVRAM layout).
    static final int RTC_SECONDS = 0x00, RTC_SECONDS_ALARM = 0x01, RTC_MINUTES = 0x02, RTC_MINUTES_ALARM = 0x03,
            RTC_HOURS = 0x04, RTC_HOURS_ALARM = 0x05, RTC_DAY_OF_WEEK = 0x06, RTC_DAY_OF_MONTH = 0x07, RTC_MONTH = 0x08,
            RTC_YEAR = 0x09, RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d;
    static final int CMOS_BASE_MEM_LOW = 0x15, CMOS_BASE_MEM_HIGH = 0x16, CMOS_EXT_MEM_LOW = 0x17, CMOS_EXT_MEM_HIGH = 0x18,
            CMOS_EXT_MEM2_LOW = 0x30, CMOS_EXT_MEM2_HIGH = 0x31, CMOS_CENTURY = 0x32, CMOS_MEM_ABOVE_16M_LOW = 0x34,
            CMOS_MEM_ABOVE_16M_HIGH = 0x35, CMOS_BOOT_FLAGS = 0x38, CMOS_BOOT_ORDER = 0x3d, CMOS_MEM_ABOVE_4G = 0x5b,
            CMOS_CPU_COUNT = 0x5f;
    static final int REG_A_DEFAULT = 0x26, REG_B_24H = 0x02, REG_B_BINARY = 0x04, REG_B_SET = 0x80, REG_D_VRT = 0x80;
    /** 0x3d: first boot device 2 = hard disk (SeaBIOS reads it when fw_cfg gives no boot order). */
    static final int BOOT_HARD_DISK = 0x02;

    private final byte[] nvram = new byte[128];
    private final Clock clock;
    private int index;

    /**
     * @param lowRamEnd  the end of RAM below 4 GiB (with the 640 KiB / 1 MiB holes inside)
     * @param highRam    bytes of RAM above 4 GiB
     * @param vcpus      the number of CPUs
     */
    public Cmos(long lowRamEnd, long highRam, int vcpus, Clock clock) {
        this.clock = clock;
        nvram[RTC_REG_A] = REG_A_DEFAULT;
        nvram[RTC_REG_B] = REG_B_24H;
        nvram[RTC_REG_D] = (byte) REG_D_VRT;
        put16(CMOS_BASE_MEM_LOW, 640);
        long extKb = Math.min(0xffff, Math.max(0, (Math.min(lowRamEnd, 64L << 20) - (1 << 20)) >> 10));
        put16(CMOS_EXT_MEM_LOW, (int) extKb);
        put16(CMOS_EXT_MEM2_LOW, (int) extKb);
        long above16m = Math.max(0, lowRamEnd - (16L << 20)) >> 16;
        put16(CMOS_MEM_ABOVE_16M_LOW, (int) Math.min(0xffff, above16m));
        long above4g = highRam >> 16;
        nvram[CMOS_MEM_ABOVE_4G] = (byte) above4g;
        nvram[CMOS_MEM_ABOVE_4G + 1] = (byte) (above4g >> 8);
        nvram[CMOS_MEM_ABOVE_4G + 2] = (byte) (above4g >> 16);
        nvram[CMOS_CPU_COUNT] = (byte) (vcpus - 1);
        nvram[CMOS_BOOT_ORDER] = BOOT_HARD_DISK;
    }

    private void put16(int at, int v) {
        nvram[at] = (byte) v;
        nvram[at + 1] = (byte) (v >> 8);
    }

    public IoHandler ports() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return offset == 1 ? readData() : 0xff;
            }

            @Override
            public void write(long offset, int size, long value) {
                if (offset == 0) selectIndex((int) value);
                else writeData((int) value & 0xff);
            }
        };
    }

    private synchronized void selectIndex(int v) {
        index = v & 0x7f;
    }

    synchronized int readData() {
        if (index <= RTC_YEAR || index == CMOS_CENTURY) {
            if (index == RTC_SECONDS_ALARM || index == RTC_MINUTES_ALARM || index == RTC_HOURS_ALARM) return nvram[index] & 0xff;
            return time(index);
        }
        int v = nvram[index] & 0xff;
        if (index == RTC_REG_C) nvram[RTC_REG_C] = 0; // reading C acknowledges the interrupt flags
        return v;
    }

    synchronized void writeData(int v) {
        switch (index) {
            case RTC_REG_A -> nvram[index] = (byte) (v & 0x7f); // UIP is read-only
            case RTC_REG_C, RTC_REG_D -> { } // read-only
            default -> {
                // Setting the time is not kept: the guest's clock follows the host's.
                if (index > RTC_YEAR && index != CMOS_CENTURY) nvram[index] = (byte) v;
                if (index == RTC_SECONDS_ALARM || index == RTC_MINUTES_ALARM || index == RTC_HOURS_ALARM) nvram[index] = (byte) v;
            }
        }
    }

    private int time(int reg) {
        LocalDateTime t = LocalDateTime.now(clock.withZone(ZoneOffset.UTC));
        int b = nvram[RTC_REG_B];
        int v = switch (reg) {
            case RTC_SECONDS -> t.getSecond();
            case RTC_MINUTES -> t.getMinute();
            case RTC_HOURS -> t.getHour();
            case RTC_DAY_OF_WEEK -> t.getDayOfWeek().getValue() % 7 + 1; // 1 = Sunday
            case RTC_DAY_OF_MONTH -> t.getDayOfMonth();
            case RTC_MONTH -> t.getMonthValue();
            case RTC_YEAR -> t.getYear() % 100;
            case CMOS_CENTURY -> t.getYear() / 100;
            default -> 0;
        };
        boolean pm = false;
        if (reg == RTC_HOURS && (b & REG_B_24H) == 0) {
            pm = v >= 12;
            v = v % 12 == 0 ? 12 : v % 12;
        }
        if ((b & REG_B_BINARY) == 0) v = (v / 10) << 4 | v % 10;
        return pm ? v | 0x80 : v;
    }

    /** The NVRAM (RTC registers A-D, alarms, the BIOS's bytes) and the index register, for a snapshot. */
    public synchronized DeviceState save() {
        return DeviceState.builder("vmm.platform.cmos", 1).put("nvram", nvram).put("index", index).build();
    }

    /** Puts back {@link #save()}'s state; the time registers still read the clock. */
    public synchronized void restore(DeviceState s) {
        s.require("vmm.platform.cmos", 1);
        byte[] n = s.getBytes("nvram");
        long i = s.getLong("index");
        if (n.length != nvram.length || i < 0 || i > 0x7f)
            throw new IncompatibleStateException("vmm.platform.cmos state: 128 bytes of NVRAM and an index below 0x80");
        System.arraycopy(n, 0, nvram, 0, nvram.length);
        index = (int) i;
    }
}
