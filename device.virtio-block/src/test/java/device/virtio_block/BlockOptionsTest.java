package device.virtio_block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Configuration in bhyve's terms, and a message naming the key for each bad value. */
class BlockOptionsTest {
    @Test
    void defaultsAreBhyvesWithAWritebackCache() {
        BlockOptions o = BlockOptions.parse("d", Map.of("path", "/img"));

        assertThat(o).isEqualTo(new BlockOptions(Path.of("/img"), false, 512, 512, "", 1, 256, 32, true, true));
    }

    @Test
    void everyKeyIsRead() {
        BlockOptions o = BlockOptions.parse("d", Map.of("path", "/img", "ro", "", "sectorsize", "512/4096", "serial", "SN-1",
                "queues", "4", "queue-size", "1024", "depth", "64", "wce", "off"));

        assertThat(o).isEqualTo(new BlockOptions(Path.of("/img"), true, 512, 4096, "SN-1", 4, 1024, 64, false, false));
    }

    @Test
    void theDepthDefaultsToNoMoreThanTheQueueSize() {
        assertThat(BlockOptions.parse("d", Map.of("path", "/img", "queue-size", "8")).depth()).isEqualTo(8);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "sectorsize | 1000       | sectorsize=1000",
            "sectorsize | 4096/512   | smaller than the logical",
            "sectorsize | 512/x      | not logical[/physical]",
            "serial     | 123456789012345678901 | at most 20",
            "queues     | 0          | queues=0 is outside 1..64",
            "queue-size | 100        | not a power of two",
            "depth      | 0          | depth=0",
            "depth      | 512        | depth=512 is outside 1..256",
            "ro         | maybe      | ro=maybe is not a boolean",
            "discard    | sometimes  | discard=sometimes",
            "wce        | 2          | wce=2",
            "queues     | lots       | queues=lots is not a number"})
    void aBadValueIsRefusedNamingTheKey(String key, String value, String message) {
        assertThatThrownBy(() -> BlockOptions.parse("disk0", Map.of("path", "/img", key, value)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("device disk0: ")
                .hasMessageContaining(message);
    }
}
