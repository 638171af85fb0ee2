package vmm.launcher;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * A disk whose boot sector counts boots: it adds one to CMOS NVRAM byte
 * {@link #COUNTER} (battery-backed, so it survives a reset), resets the
 * machine through the reset control register 0xCF9 (RST_CPU | SYS_RST) on
 * the first boot and powers off through ACPI S5 (PM1a control at the PM base
 * SeaBIOS put in PMBA) on the second. Assembled with GNU as and checked
 * with objdump; the listing is beside each line.
 */
public final class RebootDisk {
    /** The CMOS byte that counts boots: in the NVRAM bytes neither the RTC nor SeaBIOS use. */
    public static final int COUNTER = 0x4f;

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
                0x73, 0x09,                                         // 19 jae off (24)
                (byte) 0xBA, (byte) 0xF9, 0x0C,                     // 1B mov dx, 0xcf9
                (byte) 0xB0, 0x06,                                  // 1E mov al, 6         ; RST_CPU | SYS_RST
                (byte) 0xEE,                                        // 20 out dx, al
                (byte) 0xF4,                                        // 21 hlt
                (byte) 0xEB, (byte) 0xFD,                           // 22 jmp 21
                0x66, (byte) 0xB8, 0x40, 0x0B, 0x00, (byte) 0x80,   // 24 off: mov eax, 0x80000b40 ; 00:01.3 PMBA
                (byte) 0xBA, (byte) 0xF8, 0x0C,                     // 2A mov dx, 0xcf8
                0x66, (byte) 0xEF,                                  // 2D out dx, eax
                (byte) 0xBA, (byte) 0xFC, 0x0C,                     // 2F mov dx, 0xcfc
                (byte) 0xED,                                        // 32 in ax, dx
                (byte) 0x83, (byte) 0xE0, (byte) 0xC0,              // 33 and ax, 0xffc0
                (byte) 0x83, (byte) 0xC0, 0x04,                     // 36 add ax, 4          ; PM1a_CNT
                (byte) 0x89, (byte) 0xC2,                           // 39 mov dx, ax
                (byte) 0xB8, 0x00, 0x20,                            // 3B mov ax, 0x2000     ; SLP_EN | SLP_TYP 0 (S5)
                (byte) 0xEF,                                        // 3E out dx, ax
                (byte) 0xFA,                                        // 3F cli
                (byte) 0xF4,                                        // 40 hlt
                (byte) 0xEB, (byte) 0xFD,                           // 41 jmp 40
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
