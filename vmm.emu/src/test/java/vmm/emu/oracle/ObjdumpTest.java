package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import vmm.emu.oracle.Objdump.Decoded;

/** The decoder oracle on encodings whose lengths the SDM's opcode tables give by hand. */
class ObjdumpTest {
    private static final HexFormat HEX = HexFormat.of();

    @BeforeAll
    static void objdumpPresent() {
        String why = Objdump.unavailableReason();
        assumeTrue(why == null, () -> "no decoder oracle: " + why);
    }

    private static List<Decoded> decode(Mode mode, String... hex) {
        return Objdump.decode(mode, java.util.Arrays.stream(hex).map(HEX::parseHex).toList());
    }

    @Test
    void lengthsOfKnown64BitEncodings() {
        List<Decoded> d = decode(Mode.BITS64,
                "4801c8",                  // add rax,rcx
                "0f1f440000",              // nop dword [rax+rax*1+0]: ModRM, SIB, disp8
                "67a001020304",            // mov al,[moffs32] with an address-size prefix
                "a00102030405060708",      // mov al,[moffs64]
                "4040" + "01c0",           // a REX not next to the opcode is ignored, but counted
                "48" + "26" + "01c0",      // REX then a segment prefix
                "41c7c078563412",          // mov r8d,imm32
                "48b88877665544332211",    // mov rax,imm64
                "8b0578563412",            // mov eax,[rip+disp32]
                "0f04");                   // no such opcode
        assertThat(d).extracting(Decoded::length).containsExactly(3, 5, 6, 9, 4, 4, 7, 10, 6, 2);
        assertThat(d).extracting(Decoded::bad).containsExactly(false, false, false, false, false, false, false, false,
                false, true);
        assertThat(d.get(0).mnemonic()).isEqualTo("add");
        assertThat(d.get(0).text()).contains("rax,rcx");
        assertThat(d.get(4).mnemonic()).isEqualTo("add");
    }

    @Test
    void lengthsOfKnown32And16BitEncodings() {
        List<Decoded> d32 = decode(Mode.BITS32,
                "6605" + "3412",           // add ax,imm16
                "05" + "78563412",         // add eax,imm32
                "678b00",                  // mov eax,[bx+si]: 16-bit addressing
                "c400",                    // les eax,[eax] (VEX only in 64-bit mode or with mod 11)
                "8b0424",                  // mov eax,[esp]: SIB
                "40");                     // inc eax
        assertThat(d32).extracting(Decoded::length).containsExactly(4, 5, 3, 2, 3, 1);
        assertThat(d32.get(5).mnemonic()).isEqualTo("inc");

        List<Decoded> d16 = decode(Mode.BITS16,
                "05" + "3412",             // add ax,imm16
                "6605" + "78563412",       // add eax,imm32
                "8b06" + "3412",           // mov ax,[disp16]
                "678b0424",                // mov ax,[esp]: 32-bit addressing with a SIB
                "8b4700");                 // mov ax,[bx+disp8]
        assertThat(d16).extracting(Decoded::length).containsExactly(3, 6, 4, 4, 3);
    }

    @Test
    void moreThanFifteenBytesIsBad() {
        List<Decoded> d = decode(Mode.BITS64, "6666666666666666666666666605", "666666666666666666666666666666");
        assertThat(d.get(0).bad()).as("13 prefixes, then an imm16 the slot's NOPs complete: 16 bytes").isTrue();
        assertThat(d.get(1).bad()).as("15 prefixes, then a NOP of the slot").isTrue();
    }

    @Test
    void everyGeneratedSequenceDecodesFromItsSlotStartInEveryMode() {
        for (Mode mode : Mode.values()) {
            long seed = 16_05L + mode.ordinal();
            List<byte[]> seqs = new EncodingGrammar(mode, new SplittableRandom(seed)).sequences(2000);
            List<Decoded> d = Objdump.decode(mode, seqs);
            assertThat(d).as("seed %d", seed).hasSize(2000);
            long bad = d.stream().filter(Decoded::bad).count();
            assertThat(d).allSatisfy(x -> assertThat(x.length()).isBetween(1, Objdump.SLOT));
            assertThat(d.stream().filter(x -> !x.bad())).allSatisfy(x -> assertThat(x.length()).isBetween(1, 15));
            // a grammar that mostly made garbage would test little
            assertThat(bad).as("bad sequences in %s", mode).isLessThan(1000);
            System.out.printf("objdump oracle: %s, %d sequences, %d bad%n", mode, seqs.size(), bad);
        }
    }

    @Test
    void theGrammarIsReproducibleFromItsSeed() {
        List<byte[]> a = new EncodingGrammar(Mode.BITS64, new SplittableRandom(7)).sequences(50);
        List<byte[]> b = new EncodingGrammar(Mode.BITS64, new SplittableRandom(7)).sequences(50);
        for (int i = 0; i < 50; i++) assertThat(a.get(i)).isEqualTo(b.get(i));
    }
}
