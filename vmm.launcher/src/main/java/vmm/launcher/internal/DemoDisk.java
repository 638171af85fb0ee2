package vmm.launcher.internal;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The default VM's disk: 1 MiB whose master boot record is 16-bit code
 * (loaded at 0x7C00 by the firmware) that prints a message through the BIOS
 * teletype call (INT 10h, AH=0Eh), lets the timer tick for about half a
 * second (SeaBIOS's serial console writes out on timer ticks), then powers
 * the machine off through the ACPI PM1a control register (SLP_EN with
 * SLP_TYP 0) at the PM I/O base the firmware programmed into the PIIX4
 * (config 0x40 of 00:01.3), and halts should that return.
 */
public final class DemoDisk {
    public static final String MESSAGE = "Hello from vmm: SeaBIOS booted this sector from a virtio-blk disk. Powering off.";
    public static final long SIZE = 1 << 20;
    private static final int MESSAGE_OFFSET = 0x40;

    private DemoDisk() {}

    /** The 512-byte boot sector. */
    public static byte[] bootSector() {
        byte[] code = {
                0x31, (byte) 0xC0,                                  // 7C00 xor ax, ax
                (byte) 0x8E, (byte) 0xD8,                           // 7C02 mov ds, ax
                (byte) 0xBE, 0x40, 0x7C,                            // 7C04 mov si, msg (0x7C40)
                (byte) 0xAC,                                        // 7C07 print: lodsb
                0x08, (byte) 0xC0,                                  // 7C08 or al, al
                0x74, 0x09,                                         // 7C0A jz done (7C15)
                (byte) 0xB4, 0x0E,                                  // 7C0C mov ah, 0x0e   ; teletype output
                (byte) 0xBB, 0x07, 0x00,                            // 7C0E mov bx, 0x0007 ; page 0, colour 7
                (byte) 0xCD, 0x10,                                  // 7C11 int 0x10
                (byte) 0xEB, (byte) 0xF2,                           // 7C13 jmp print
                (byte) 0xFB,                                        // 7C15 done: sti
                (byte) 0xB9, 0x0A, 0x00,                            // 7C16 mov cx, 10
                (byte) 0xF4,                                        // 7C19 wait: hlt
                (byte) 0xE2, (byte) 0xFD,                           // 7C1A loop wait
                0x66, (byte) 0xB8, 0x40, 0x0B, 0x00, (byte) 0x80,   // 7C1C mov eax, 0x80000b40 ; 00:01.3 PMBA
                (byte) 0xBA, (byte) 0xF8, 0x0C,                     // 7C22 mov dx, 0xcf8
                0x66, (byte) 0xEF,                                  // 7C25 out dx, eax
                (byte) 0xBA, (byte) 0xFC, 0x0C,                     // 7C27 mov dx, 0xcfc
                (byte) 0xED,                                        // 7C2A in ax, dx
                0x25, (byte) 0xC0, (byte) 0xFF,                     // 7C2B and ax, 0xffc0    ; the PM I/O base
                0x05, 0x04, 0x00,                                   // 7C2E add ax, 4         ; PM1a_CNT
                (byte) 0x89, (byte) 0xC2,                           // 7C31 mov dx, ax
                (byte) 0xB8, 0x00, 0x20,                            // 7C33 mov ax, 0x2000    ; SLP_EN | SLP_TYP 0 (S5)
                (byte) 0xEF,                                        // 7C36 out dx, ax
                (byte) 0xFA,                                        // 7C37 cli
                (byte) 0xF4,                                        // 7C38 halt: hlt
                (byte) 0xEB, (byte) 0xFD,                           // 7C39 jmp halt
        };
        byte[] mbr = new byte[512];
        System.arraycopy(code, 0, mbr, 0, code.length);
        byte[] msg = ("\r\n" + MESSAGE + "\r\n\0").getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(msg, 0, mbr, MESSAGE_OFFSET, msg.length);
        mbr[510] = 0x55;
        mbr[511] = (byte) 0xAA;
        return mbr;
    }

    /** Writes the disk image to {@code file}. */
    public static void write(Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SIZE);
            f.write(bootSector());
        }
    }
}
