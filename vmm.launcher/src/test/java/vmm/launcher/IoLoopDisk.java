package vmm.launcher;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * A disk whose boot sector keeps the guest busy with disk I/O: it reads
 * sector 2 (CHS 0/0/2) through the BIOS (INT 13h, AH=02h) over and over,
 * checks the first byte is the pattern 0xA5 and clears it so every read
 * must bring it back, and prints through INT 10h a '.' every 256 good
 * reads, 'E' for a read the BIOS failed and 'X' for wrong data.
 */
final class IoLoopDisk {
    static final byte PATTERN = (byte) 0xA5;

    private IoLoopDisk() {}

    static void write(Path file) throws IOException {
        byte[] code = {
                0x31, (byte) 0xC0,                                  // 7C00 xor ax, ax
                (byte) 0x8E, (byte) 0xD8,                           // 7C02 mov ds, ax
                (byte) 0x8E, (byte) 0xC0,                           // 7C04 mov es, ax
                (byte) 0xFB,                                        // 7C06 sti
                0x31, (byte) 0xF6,                                  // 7C07 xor si, si        ; reads so far
                (byte) 0xB8, 0x01, 0x02,                            // 7C09 loop: mov ax, 0x0201 ; read 1 sector
                (byte) 0xB9, 0x02, 0x00,                            // 7C0C mov cx, 0x0002   ; cylinder 0, sector 2
                (byte) 0xBA, (byte) 0x80, 0x00,                     // 7C0F mov dx, 0x0080   ; head 0, first hard disk
                (byte) 0xBB, 0x00, (byte) 0x80,                     // 7C12 mov bx, 0x8000   ; into 0000:8000
                (byte) 0xCD, 0x13,                                  // 7C15 int 0x13
                0x72, 0x1A,                                         // 7C17 jc error
                (byte) 0x80, 0x3E, 0x00, (byte) 0x80, (byte) 0xA5,  // 7C19 cmp byte [0x8000], 0xA5
                0x75, 0x1A,                                         // 7C1E jne bad
                (byte) 0xC6, 0x06, 0x00, (byte) 0x80, 0x00,         // 7C20 mov byte [0x8000], 0
                0x46,                                               // 7C25 inc si
                (byte) 0xF7, (byte) 0xC6, (byte) 0xFF, 0x00,        // 7C26 test si, 0x00ff
                0x75, (byte) 0xDD,                                  // 7C2A jnz loop
                (byte) 0xB0, 0x2E,                                  // 7C2C mov al, '.'
                (byte) 0xE8, 0x10, 0x00,                            // 7C2E call putc
                (byte) 0xEB, (byte) 0xD6,                           // 7C31 jmp loop
                (byte) 0xB0, 0x45,                                  // 7C33 error: mov al, 'E'
                (byte) 0xE8, 0x09, 0x00,                            // 7C35 call putc
                (byte) 0xEB, (byte) 0xCF,                           // 7C38 jmp loop
                (byte) 0xB0, 0x58,                                  // 7C3A bad: mov al, 'X'
                (byte) 0xE8, 0x02, 0x00,                            // 7C3C call putc
                (byte) 0xEB, (byte) 0xC8,                           // 7C3F jmp loop
                (byte) 0xB4, 0x0E,                                  // 7C41 putc: mov ah, 0x0e
                (byte) 0xBB, 0x07, 0x00,                            // 7C43 mov bx, 7
                (byte) 0xCD, 0x10,                                  // 7C46 int 0x10
                (byte) 0xC3,                                        // 7C48 ret
        };
        byte[] disk = new byte[1024];
        System.arraycopy(code, 0, disk, 0, code.length);
        disk[510] = 0x55;
        disk[511] = (byte) 0xAA;
        java.util.Arrays.fill(disk, 512, 1024, PATTERN);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(1 << 20);
            f.write(disk);
        }
    }
}
