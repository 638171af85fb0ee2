package vmm.core.internal.fwcfg;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.memory.GuestMemory;

/** fw_cfg as QEMU's specification describes it, read the way SeaBIOS reads it. */
class FwCfgTest {
    private final GuestMemory memory = GuestMemory.ofSize(1 << 20);
    private final FwCfg fw = new FwCfg(memory);
    private final IoHandler ports = fw.ports();

    @AfterEach
    void close() {
        memory.close();
    }

    private byte[] readItem(int key, int n) {
        ports.write(0, 2, key);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) ports.read(1, 1);
        return b;
    }

    @Test
    void theSignatureAndIdSayQemuWithDma() {
        assertThat(new String(readItem(FwCfg.FW_CFG_SIGNATURE, 4), StandardCharsets.US_ASCII)).isEqualTo("QEMU");
        assertThat(readItem(FwCfg.FW_CFG_ID, 4)[0]).isEqualTo((byte) (FwCfg.FW_CFG_VERSION | FwCfg.FW_CFG_VERSION_DMA));
    }

    @Test
    void theDmaRegisterReadsAsTheDmaSignatureBigEndian() {
        long hi = ports.read(4, 4), lo = ports.read(8, 4);
        long sig = Long.reverseBytes(lo << 32 | hi);
        assertThat(sig).isEqualTo(FwCfg.FW_CFG_DMA_SIGNATURE);
    }

    @Test
    void filesAreListedInTheDirectorySortedWithSizeAndKey() {
        fw.addFile("etc/zzz", new byte[3]);
        int key = fw.addFile("etc/aaa", new byte[5]);
        ByteBuffer dir = ByteBuffer.wrap(readItem(FwCfg.FW_CFG_FILE_DIR, 4 + 2 * 64));
        assertThat(dir.getInt(0)).isEqualTo(2);
        assertThat(dir.getInt(4)).isEqualTo(5);
        assertThat(dir.getShort(8) & 0xffff).isEqualTo(key);
        assertThat(new String(readItem(FwCfg.FW_CFG_FILE_DIR, 4 + 64), 12, 7, StandardCharsets.US_ASCII)).isEqualTo("etc/aaa");
    }

    @Test
    void readsPastAnItemsEndReturnZero() {
        fw.addFile("x", new byte[] {7});
        byte[] b = readItem(FwCfg.FW_CFG_FILE_FIRST, 3);
        assertThat(b).containsExactly(7, 0, 0);
    }

    @Test
    void aDmaReadSelectsCopiesAndClearsTheControlWord() {
        int key = fw.addFile("etc/blob", "hello".getBytes(StandardCharsets.US_ASCII));
        long desc = 0x1000, buf = 0x2000;
        writeDescriptor(desc, key << 16 | FwCfg.FW_CFG_DMA_CTL_SELECT | FwCfg.FW_CFG_DMA_CTL_READ, 8, buf);
        startDma(desc);
        byte[] got = new byte[8];
        memory.read(buf, got, 0, 8);
        assertThat(new String(got, 0, 5, StandardCharsets.US_ASCII)).isEqualTo("hello");
        assertThat(got[5]).as("beyond the item: zeros").isZero();
        assertThat(memory.readU32(desc)).as("control word: done, no error").isZero();
    }

    @Test
    void aDmaBufferOutsideRamEndsWithTheErrorBitAndHarmsNothing() {
        int key = fw.addFile("etc/blob", new byte[16]);
        long desc = 0x1000;
        writeDescriptor(desc, key << 16 | FwCfg.FW_CFG_DMA_CTL_SELECT | FwCfg.FW_CFG_DMA_CTL_READ, 16, 0xffff_ffff_0000L);
        startDma(desc);
        assertThat(Integer.reverseBytes((int) memory.readU32(desc)) & FwCfg.FW_CFG_DMA_CTL_ERROR).isNotZero();
    }

    @Test
    void aDmaWriteIsRefusedWithTheErrorBit() {
        int key = fw.addFile("etc/ro", new byte[4]);
        writeDescriptor(0x1000, key << 16 | FwCfg.FW_CFG_DMA_CTL_SELECT | FwCfg.FW_CFG_DMA_CTL_WRITE, 4, 0x2000);
        startDma(0x1000);
        assertThat(Integer.reverseBytes((int) memory.readU32(0x1000)) & FwCfg.FW_CFG_DMA_CTL_ERROR).isNotZero();
        assertThat(fw.file("etc/ro")).containsOnly(0);
    }

    @Test
    void aDescriptorOutsideRamIsIgnored() {
        ports.write(4, 4, Integer.reverseBytes(0x7fff_ffff));
        ports.write(8, 4, 0);
        assertThat(readItem(FwCfg.FW_CFG_SIGNATURE, 4)).containsExactly('Q', 'E', 'M', 'U');
    }

    private void writeDescriptor(long at, int control, int length, long address) {
        memory.writeU32(at, Integer.reverseBytes(control) & 0xffffffffL);
        memory.writeU32(at + 4, Integer.reverseBytes(length) & 0xffffffffL);
        memory.writeU64(at + 8, Long.reverseBytes(address));
    }

    private void startDma(long desc) {
        ports.write(4, 4, Integer.reverseBytes((int) (desc >>> 32)) & 0xffffffffL);
        ports.write(8, 4, Integer.reverseBytes((int) desc) & 0xffffffffL);
    }
}
