package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PciAddressTest {
    @Test
    void parsesBhyveSlotFormsInDecimalAndLspciFormsInHex() {
        assertThat(PciAddress.parse("4")).isEqualTo(new PciAddress(0, 4, 0));
        assertThat(PciAddress.parse("10:3")).isEqualTo(new PciAddress(0, 10, 3));
        assertThat(PciAddress.parse("00:1f.2")).isEqualTo(new PciAddress(0, 31, 2));
        assertThat(PciAddress.parse("0000:3b:00.1")).isEqualTo(new PciAddress(0x3b, 0, 1));
        assertThat(PciAddress.parse("0:4.0").toString()).isEqualTo("00:04.0");
    }

    @Test
    void outOfRangeOrMalformedAddressesNameTheText() {
        assertThatThrownBy(() -> PciAddress.parse("32")).hasMessageContaining("'32'").hasMessageContaining("slot must be 0..31");
        assertThatThrownBy(() -> PciAddress.parse("3:8")).hasMessageContaining("function must be 0..7");
        assertThatThrownBy(() -> PciAddress.parse("slot4")).hasMessageContaining("expected slot");
    }

    @Test
    void bdfPacksBusDeviceFunction() {
        assertThat(new PciAddress(1, 2, 3).bdf()).isEqualTo(0x113);
    }
}
