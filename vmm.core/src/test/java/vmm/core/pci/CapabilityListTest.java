package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.pci.PciRegs.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class CapabilityListTest extends PciFixture {
    private static final int PCI_CAP_ID_VNDR = 0x09;
    private static final int PCI_CAP_ID_PM = 0x01;

    private final PciAddress at = PciAddress.slot(2);

    @Test
    void walkFromCapabilityPointerReachesEveryCapabilityInOrder() {
        PciFunction f = attach(at, spec().bar(BarSpec.mem32(0, 0x4000))
                .msix(new MsiXSpec(4, 0, 0x2000, 0, 0x3000)).msi(new MsiSpec(4, true, true))
                .capability(new Capability(PCI_CAP_ID_VNDR, new byte[] {14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, null))
                .capability(new Capability(PCI_CAP_ID_PM, new byte[] {3, 0, 0, 0, 0, 0}, null)).build());

        List<int[]> caps = walkCapabilities(at);

        assertThat(caps).extracting(c -> c[1]).containsExactly(PCI_CAP_ID_MSIX, PCI_CAP_ID_MSI, PCI_CAP_ID_VNDR,
                PCI_CAP_ID_PM);
        assertThat(caps).extracting(c -> c[0]).allSatisfy(off -> assertThat(off).isBetween(0x40, 0xfc)
                .matches(o -> o % 4 == 0, "dword aligned"));
        assertThat(caps.get(0)[0]).isEqualTo(0x40);
        assertThat(f.capabilityOffset(0)).isEqualTo(caps.get(2)[0]);
        assertThat(f.capabilityOffset(1)).isEqualTo(caps.get(3)[0]);
        assertThat(read8(at, caps.get(3)[0] + PCI_CAP_LIST_NEXT)).isZero();
        assertThat(read16(at, PCI_STATUS) & PCI_STATUS_CAP_LIST).isNotZero();
        assertThatThrownBy(() -> f.capabilityOffset(2)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void capabilitiesDoNotOverlap() {
        attach(at, spec().bar(BarSpec.mem32(0, 0x4000)).msix(new MsiXSpec(4, 0, 0x2000, 0, 0x3000))
                .msi(new MsiSpec(1, false, false)) // 10 bytes
                .capability(new Capability(PCI_CAP_ID_VNDR, new byte[3], null)) // 5 bytes
                .capability(new Capability(PCI_CAP_ID_VNDR, new byte[2], null)).build());

        List<int[]> caps = walkCapabilities(at);

        assertThat(caps).extracting(c -> c[0]).containsExactly(0x40, 0x4c, 0x58, 0x60);
    }

    @Test
    void functionWithoutCapabilitiesHasNullPointerAndNoListBit() {
        attach(at, spec().build());

        assertThat(read8(at, PCI_CAPABILITY_LIST)).isZero();
        assertThat(read16(at, PCI_STATUS) & PCI_STATUS_CAP_LIST).isZero();
    }

    @Test
    void capabilityWithoutHandlerIsReadOnly() {
        PciFunction f = attach(at, spec().capability(new Capability(PCI_CAP_ID_VNDR, new byte[] {8, 0x11, 0x22, 0x33,
                0x44, 0x55}, null)).build());
        int cap = f.capabilityOffset(0);

        write32(at, cap, -1);
        write32(at, cap + 4, -1);

        assertThat(read32(at, cap)).isEqualTo(0x1108_0009);
        assertThat(read32(at, cap + 4)).isEqualTo(0x5544_3322);
        assertThat(read32(at, PCI_CAPABILITY_LIST)).isEqualTo(cap);
    }

    @Test
    void handlerAnswersAccessesInsideTheBodyAndIdAndNextStayReadOnly() {
        List<String> calls = new ArrayList<>();
        CapabilityHandler live = new CapabilityHandler() {
            @Override
            public int read(int offset, int size, int stored) {
                calls.add("read " + offset + "/" + size + " stored=" + Integer.toHexString(stored));
                return offset == 8 ? 0xcafe : stored;
            }

            @Override
            public int write(int offset, int size, int value, int stored) {
                calls.add("write " + offset + "/" + size + " " + Integer.toHexString(value));
                return offset == 4 ? value : stored;
            }
        };
        PciFunction f = attach(at, spec().msi(new MsiSpec(1, false, false))
                .capability(new Capability(PCI_CAP_ID_VNDR, new byte[] {12, 1, 0, 0, 0, 0, 0, 0, 0, 0}, live)).build());
        int cap = f.capabilityOffset(0);

        write32(at, cap + 4, 0x1234_5678);
        write32(at, cap + 8, 0x9999);
        write32(at, cap, -1);
        int header = read16(at, cap);
        int body4 = read32(at, cap + 4);
        int body8 = read16(at, cap + 8);
        int lenAndType = read16(at, cap + 2);

        assertThat(header).isEqualTo(PCI_CAP_ID_VNDR);
        assertThat(body4).isEqualTo(0x1234_5678);
        assertThat(body8).isEqualTo(0xcafe);
        assertThat(lenAndType).isEqualTo(0x010c);
        assertThat(calls).containsExactly("write 4/4 12345678", "write 8/4 9999", "read 4/4 stored=12345678",
                "read 8/2 stored=0", "read 2/2 stored=10c");
    }

    @Test
    void capabilitiesThatDoNotFitAreRejectedAtAttach() {
        PciFunctionSpec tooMany = spec().capability(new Capability(PCI_CAP_ID_VNDR, new byte[150], null))
                .capability(new Capability(PCI_CAP_ID_VNDR, new byte[40], null)).build();

        assertThatThrownBy(() -> attach(at, tooMany)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("capabilities");
        assertThat(bus.addresses()).isEmpty();
    }
}
