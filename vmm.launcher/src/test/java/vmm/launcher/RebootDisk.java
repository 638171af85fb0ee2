package vmm.launcher;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * A disk whose boot sector counts boots: it adds one to CMOS NVRAM byte
 * {@link #COUNTER} (battery-backed, so it survives a reset), resets the
 * machine through the reset control register 0xCF9 (RST_CPU | SYS_RST) on
 * the first boot and powers off through ACPI S5 (PM1a control at the PM base
 * SeaBIOS put in PMBA) on the second. After each of those writes it marks
 * CMOS byte {@link #RAN_PAST}, which only a machine that let it run on
 * reaches. Assembled with GNU as and checked with objdump; the listing is
 * beside each line.
 */
public final class RebootDisk {
    /** The CMOS byte that counts boots: in the NVRAM bytes neither the RTC nor SeaBIOS use. */
    public static final int COUNTER = 0x4f;
    /**
     * The CMOS byte the boot sector sets when an instruction after its reset
     * (1) or power-off (2) write ran: a machine must take effect at the write,
     * so it stays 0.
     */
    public static final int RAN_PAST = 0x4e;

    private RebootDisk() {}

    public static byte[] bootSector() {
        byte[] code = {
                0x31, (byte) 0xC0,                                  // 00 xor ax, ax
                (byte) 0x8E, (byte) 0xD8,                           // 02 mov ds, ax
                (byte) 0xB0, COUNTER,                               // 04 mov al, COUNTER
                (byte) 0xE6, 0x70,                                  // 06 out 0x70, al
                (byte) 0xE4, 0x71,                                  // 08 in al, 0x71
                (byte) 0xFE, (byte) 0xC0,                           // 0A inc al
                (byte) 0x88, (byte) 0xC3,                           // 0C mov bl, al
                (byte) 0xB0, COUNTER,                               // 0E mov al, COUNTER
                (byte) 0xE6, 0x70,                                  // 10 out 0x70, al
                (byte) 0x88, (byte) 0xD8,                           // 12 mov al, bl
                (byte) 0xE6, 0x71,                                  // 14 out 0x71, al      ; count + 1
                (byte) 0x80, (byte) 0xFB, 0x02,                     // 16 cmp bl, 2
                0x73, 0x11,                                         // 19 jae off (2c)
                (byte) 0xBA, (byte) 0xF9, 0x0C,                     // 1B mov dx, 0xcf9
                (byte) 0xB0, 0x06,                                  // 1E mov al, 6         ; RST_CPU | SYS_RST
                (byte) 0xEE,                                        // 20 out dx, al
                (byte) 0xB0, RAN_PAST,                              // 21 mov al, RAN_PAST  ; only if still running
                (byte) 0xE6, 0x70,                                  // 23 out 0x70, al
                (byte) 0xB0, 0x01,                                  // 25 mov al, 1
                (byte) 0xE6, 0x71,                                  // 27 out 0x71, al
                (byte) 0xF4,                                        // 29 hlt
                (byte) 0xEB, (byte) 0xFD,                           // 2A jmp 29
                0x66, (byte) 0xB8, 0x40, 0x0B, 0x00, (byte) 0x80,   // 2C off: mov eax, 0x80000b40 ; 00:01.3 PMBA
                (byte) 0xBA, (byte) 0xF8, 0x0C,                     // 32 mov dx, 0xcf8
                0x66, (byte) 0xEF,                                  // 35 out dx, eax
                (byte) 0xBA, (byte) 0xFC, 0x0C,                     // 37 mov dx, 0xcfc
                (byte) 0xED,                                        // 3A in ax, dx
                (byte) 0x83, (byte) 0xE0, (byte) 0xC0,              // 3B and ax, 0xffc0
                (byte) 0x83, (byte) 0xC0, 0x04,                     // 3E add ax, 4          ; PM1a_CNT
                (byte) 0x89, (byte) 0xC2,                           // 41 mov dx, ax
                (byte) 0xB8, 0x00, 0x20,                            // 43 mov ax, 0x2000     ; SLP_EN | SLP_TYP 0 (S5)
                (byte) 0xEF,                                        // 46 out dx, ax
                (byte) 0xB0, RAN_PAST,                              // 47 mov al, RAN_PAST  ; only if still running
                (byte) 0xE6, 0x70,                                  // 49 out 0x70, al
                (byte) 0xB0, 0x02,                                  // 4B mov al, 2
                (byte) 0xE6, 0x71,                                  // 4D out 0x71, al
                (byte) 0xFA,                                        // 4F cli
                (byte) 0xF4,                                        // 50 hlt
                (byte) 0xEB, (byte) 0xFD,                           // 51 jmp 50
        };
        byte[] mbr = new byte[512];
        System.arraycopy(code, 0, mbr, 0, code.length);
        mbr[510] = 0x55;
        mbr[511] = (byte) 0xAA;
        return mbr;
    }

    /** Writes a 1 MiB disk image with this boot sector to {@code file}. */
    public static void write(Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(1 << 20);
            f.write(bootSector());
        }
    }
}
