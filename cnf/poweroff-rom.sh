# Writes 64 KiB boot ROMs for start-up measurements and ./vmm's AOT training
# (sourced by ./vmm and vmm.benchmarks/startup-vs-qemu.sh):
#   vmm_poweroff_rom FILE: places the PIIX4 PM block at 0x600 and enables it
#       (off at power-on, as on the chip), then powers off through ACPI S5;
#   vmm_idle_rom FILE: halts with interrupts off.
# The ROM is HLT (0xF4) everywhere but the code at offset 0xF000 (0xFFFFF000)
# and the reset vector in its last 16 bytes (0xFFFFFFF0):
#   mov dx,0xcf8 ; mov eax,0x80000b40 ; out dx,eax ; mov dx,0xcfc ; mov eax,0x601 ; out dx,eax  (PMBA, 00:01.3)
#   mov dx,0xcf8 ; mov eax,0x80000b80 ; out dx,eax ; mov dx,0xcfc ; mov al,1 ; out dx,al       (PMREGMISC)
#   mov dx,0x604 ; mov ax,0x2000 ; out dx,ax ; hlt ; jmp $-1                                    (PM1a_CNT: SLP_EN)
#   reset vector: jmp 0xf000 (power-off ROM) or cli ; hlt ; jmp $-1 (idle ROM)
#   vmm_hello_rom FILE: first writes the marker "#go#" to COM1 (mov dx,0x3f8, then mov al,C ; out dx,al per
#       character: a 16550 at power-on sends what is written to its THR), then powers off as above;
#   vmm_hello_idle_rom FILE: writes the same marker, then halts with interrupts off.
# QEMU, given the same ROM, takes the same writes to its own PIIX4.

vmm_rom_fill() { head -c "$1" /dev/zero | tr '\0' '\364'; }

vmm_rom() { # vmm_rom CODE_AT_F000 RESET_VECTOR FILE (codes as printf escapes)
    local code=$1 vector=$2 out=$3 clen vlen
    clen=$(printf "$code" | wc -c); vlen=$(printf "$vector" | wc -c)
    { vmm_rom_fill $((0xF000)); printf "$code"; vmm_rom_fill $((65536 - 16 - 0xF000 - clen))
      printf "$vector"; vmm_rom_fill $((16 - vlen)); } > "$out"
}

vmm_poweroff_rom() {
    vmm_rom '\272\370\014\146\270\100\013\000\200\146\357\272\374\014\146\270\001\006\000\000\146\357\272\370\014\146\270\200\013\000\200\146\357\272\374\014\260\001\356\272\004\006\270\000\040\357\364\353\375' \
        '\351\015\360' "$1"
}

vmm_idle_rom() {
    vmm_rom '' '\372\364\353\375' "$1"
}

# mov dx,0x3f8 ; then "#go#" one character at a time (mov al,C ; out dx,al).
vmm_hello_code='\272\370\003\260\043\356\260\147\356\260\157\356\260\043\356'

vmm_hello_rom() {
    vmm_rom "$vmm_hello_code"'\272\370\014\146\270\100\013\000\200\146\357\272\374\014\146\270\001\006\000\000\146\357\272\370\014\146\270\200\013\000\200\146\357\272\374\014\260\001\356\272\004\006\270\000\040\357\364\353\375' \
        '\351\015\360' "$1"
}

vmm_hello_idle_rom() {
    vmm_rom "$vmm_hello_code"'\372\364\353\375' '\351\015\360' "$1"
}
