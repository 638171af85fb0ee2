package vmm.emu.oracle;

/**
 * The RFLAGS bits the oracles compare (Intel SDM vol. 1, 3.4.3): the six status flags and DF. The
 * others (TF, IF, IOPL, AC...) are never set by a test case, and never compared.
 */
public final class Flags {
    public static final long CF = 1L << 0, PF = 1L << 2, AF = 1L << 4, ZF = 1L << 6, SF = 1L << 7;
    public static final long DF = 1L << 10, OF = 1L << 11;
    /** The status flags an arithmetic instruction may write. */
    public static final long STATUS = CF | PF | AF | ZF | SF | OF;
    /** Every flag a case may set on input and the comparison looks at. */
    public static final long COMPARED = STATUS | DF;

    private Flags() {}

    /** The flags in {@code mask} spelled as the SDM names them, e.g. "CF|ZF", for failure messages. */
    public static String names(long mask) {
        StringBuilder b = new StringBuilder();
        String[] names = {"CF", "", "PF", "", "AF", "", "ZF", "SF", "", "", "DF", "OF"};
        for (int bit = 0; bit < names.length; bit++) {
            if ((mask & (1L << bit)) != 0 && !names[bit].isEmpty()) {
                if (!b.isEmpty()) b.append('|');
                b.append(names[bit]);
            }
        }
        return b.isEmpty() ? "-" : b.toString();
    }
}
