package vmm.launcher;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * A disk whose boot sector counts for ever: it adds one to the 32-bit counter at {@link #COUNTER} in RAM, prints
 * the count in decimal and a newline on COM1 (polling the line status register's THRE), spins a while, and goes
 * on. A snapshot taken and restored anywhere in this loop must show on COM1 as numbers with no gap and no repeat.
 * Assembled with GNU as ({@code .code16}) and checked with objdump; the listing is beside each line.
 */
public final class CountDisk {
    /** Where the count lives: just above the boot sector, which SeaBIOS no longer uses once it booted it. */
    public static final long COUNTER = 0x7e00;
    /** Where the code goes when no firmware loads it: a boot sector's address. */
    public static final long LOAD = 0x7c00;

    private CountDisk() {}

    public static byte[] bootSector() {
        byte[] code = {
                0x31, (byte) 0xC0,                                          // 00 xor ax, ax
                (byte) 0x8E, (byte) 0xD8,                                   // 02 mov ds, ax
                (byte) 0x8E, (byte) 0xD0,                                   // 04 mov ss, ax
                (byte) 0xBC, 0x00, 0x7C,                                    // 06 mov sp, 0x7c00
                0x66, (byte) 0xC7, 0x06, 0x00, 0x7E, 0x00, 0x00, 0x00, 0x00, // 09 mov dword [0x7e00], 0
                0x66, (byte) 0xA1, 0x00, 0x7E,                              // 12 next: mov eax, [0x7e00]
                0x66, 0x40,                                                 // 16 inc eax
                0x66, (byte) 0xA3, 0x00, 0x7E,                              // 18 mov [0x7e00], eax
                0x31, (byte) 0xC9,                                          // 1C xor cx, cx
                0x66, (byte) 0xBB, 0x0A, 0x00, 0x00, 0x00,                  // 1E mov ebx, 10
                0x66, 0x31, (byte) 0xD2,                                    // 24 conv: xor edx, edx
                0x66, (byte) 0xF7, (byte) 0xF3,                             // 27 div ebx
                0x52,                                                       // 2A push dx
                0x41,                                                       // 2B inc cx
                0x66, (byte) 0x85, (byte) 0xC0,                             // 2C test eax, eax
                0x75, (byte) 0xF3,                                          // 2F jnz conv
                0x58,                                                       // 31 digits: pop ax
                0x04, 0x30,                                                 // 32 add al, '0'
                (byte) 0xE8, 0x13, 0x00,                                    // 34 call putc
                (byte) 0xE2, (byte) 0xF8,                                   // 37 loop digits
                (byte) 0xB0, 0x0A,                                          // 39 mov al, 10
                (byte) 0xE8, 0x0C, 0x00,                                    // 3B call putc
                0x66, (byte) 0xB9, (byte) 0xE0, (byte) 0x93, 0x04, 0x00,    // 3E mov ecx, 300000
                0x66, 0x49,                                                 // 44 delay: dec ecx
                0x75, (byte) 0xFC,                                          // 46 jnz delay
                (byte) 0xEB, (byte) 0xC8,                                   // 48 jmp next
                (byte) 0x88, (byte) 0xC4,                                   // 4A putc: mov ah, al
                (byte) 0xBA, (byte) 0xFD, 0x03,                             // 4C mov dx, 0x3fd
                (byte) 0xEC,                                                // 4F wait: in al, dx
                (byte) 0xA8, 0x20,                                          // 50 test al, 0x20
                0x74, (byte) 0xFB,                                          // 52 jz wait
                (byte) 0xBA, (byte) 0xF8, 0x03,                             // 54 mov dx, 0x3f8
                (byte) 0x88, (byte) 0xE0,                                   // 57 mov al, ah
                (byte) 0xEE,                                                // 59 out dx, al
                (byte) 0xC3,                                                // 5A ret
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
