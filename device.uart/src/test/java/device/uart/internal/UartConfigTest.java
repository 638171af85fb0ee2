package device.uart.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import device.uart.backend.BackendSpec;

class UartConfigTest {
    @ParameterizedTest(name = "port={0} -> 0x{1} irq {2}")
    @CsvSource({"com1, 3f8, 4", "com2, 2f8, 3", "com3, 3e8, 4", "com4, 2e8, 3", "0x2f8, 2f8, 3", "1016, 3f8, 4"})
    void comPortsHaveTheirPcAddressesAndIrqs(String port, String hex, int irq) {
        UartConfig c = UartConfig.parse(Map.of("service.pid", "x", "port", port));
        assertThat(c.port()).isEqualTo(Integer.parseInt(hex, 16));
        assertThat(c.irq()).isEqualTo(irq);
    }

    @Test
    void defaultsAreCom1WithNoBackEnd() {
        UartConfig c = UartConfig.parse(Map.of("service.pid", "device.uart~1"));
        assertThat(c.id()).isEqualTo("device.uart~1");
        assertThat(c.port()).isEqualTo(0x3f8);
        assertThat(c.backend().kind()).isEqualTo(BackendSpec.Kind.NONE);
    }

    @Test
    void anExplicitIrqWinsAndNumbersMayBeNumbers() {
        UartConfig c = UartConfig.parse(Map.of("port", 0x3f8, "irq", 11));
        assertThat(c.irq()).isEqualTo(11);
    }

    @Test
    void anUnusualPortNeedsAnIrq() {
        assertThatThrownBy(() -> UartConfig.parse(Map.of("service.pid", "u", "port", "0x500")))
                .hasMessageContaining("device.uart u: irq is required for port=0x500");
        assertThat(UartConfig.parse(Map.of("port", "0x500", "irq", "5")).irq()).isEqualTo(5);
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> UartConfig.parse(Map.of("port", "com5"))).hasMessageContaining("port=com5");
        assertThatThrownBy(() -> UartConfig.parse(Map.of("port", "0xffff"))).hasMessageContaining("port=0xffff");
        assertThatThrownBy(() -> UartConfig.parse(Map.of("irq", "four"))).hasMessageContaining("irq=four");
        assertThatThrownBy(() -> UartConfig.parse(Map.of("irq", 24))).hasMessageContaining("irq=24");
        assertThatThrownBy(() -> UartConfig.parse(Map.of("backend", "tcp=localhost"))).hasMessageContaining("backend=tcp=localhost");
    }
}
