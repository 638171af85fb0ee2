package vmm.core.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

class DeviceStateTest {
    private static DeviceState sample() {
        DeviceState queue = DeviceState.builder("queue", 1).put("last-avail", 7).put("used", 5).build();
        return DeviceState.builder("virtio-blk", 2)
                .put("capacity", 1L << 40)
                .put("serial", "disk-01")
                .put("wce", true)
                .put("pending", new byte[] {1, 2, 3})
                .put("queue0", queue)
                .putList("heads", List.of(1, 2, 3))
                .build();
    }

    @Test
    void encodingRoundTripsEveryKindOfField() {
        DeviceState s = sample();
        DeviceState back = DeviceState.decode(s.encode());

        assertThat(back).isEqualTo(s);
        assertThat(back.type()).isEqualTo("virtio-blk");
        assertThat(back.version()).isEqualTo(2);
        assertThat(back.getLong("capacity")).isEqualTo(1L << 40);
        assertThat(back.getString("serial")).isEqualTo("disk-01");
        assertThat(back.getBoolean("wce")).isTrue();
        assertThat(back.getBytes("pending")).containsExactly(1, 2, 3);
        assertThat(back.getState("queue0").getInt("last-avail")).isEqualTo(7);
        assertThat(back.getList("heads")).containsExactly(1L, 2L, 3L);
        assertThat(back.names()).containsExactly("capacity", "serial", "wce", "pending", "queue0", "heads");
    }

    @Test
    void aReaderChecksTypeAndVersion() {
        DeviceState s = sample();
        assertThat(s.require("virtio-blk", 2)).isSameAs(s);
        assertThatThrownBy(() -> s.require("virtio-net", 2)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("virtio-blk given to a virtio-net");
        assertThatThrownBy(() -> s.require("virtio-blk", 1)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("version 2 is not readable");
    }

    @Test
    void aMissingOrMistypedFieldIsAnIncompatibleState() {
        DeviceState s = sample();
        assertThatThrownBy(() -> s.getLong("nope")).isInstanceOf(IncompatibleStateException.class).hasMessageContaining("no field 'nope'");
        assertThatThrownBy(() -> s.getLong("serial")).isInstanceOf(IncompatibleStateException.class).hasMessageContaining("not a Long");
        assertThat(s.getLong("nope", 42)).isEqualTo(42);
    }

    @Test
    void anIntFieldOutOfTheIntRangeIsAnIncompatibleStateNamingIt() {
        DeviceState s = DeviceState.builder("x", 1).put("queue-pairs", 1L << 40).put("small", -7).build();
        assertThatThrownBy(() -> s.getInt("queue-pairs")).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("'queue-pairs'").hasMessageContaining(Long.toString(1L << 40));
        assertThat(s.getInt("small")).isEqualTo(-7);
    }

    @Test
    void truncatedOrCorruptBytesAreRefusedNotMisread() {
        byte[] good = sample().encode();
        for (int cut = 0; cut < good.length; cut += 7) {
            byte[] truncated = Arrays.copyOf(good, cut);
            assertThatThrownBy(() -> DeviceState.decode(truncated)).isInstanceOf(IncompatibleStateException.class);
        }
        byte[] trailing = Arrays.copyOf(good, good.length + 1);
        assertThatThrownBy(() -> DeviceState.decode(trailing)).hasMessageContaining("trailing");
        byte[] badMagic = good.clone();
        badMagic[0] ^= 1;
        assertThatThrownBy(() -> DeviceState.decode(badMagic)).hasMessageContaining("magic");
    }

    @Test
    void listsNestedWithoutBoundAreRefusedNotAStackOverflow() {
        // magic, type "x", version 1, one field "l", then 100,000 lists of one list each
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
        try {
            out.writeInt(0x56535431);
            out.writeUTF("x");
            out.writeInt(1);
            out.writeInt(1);
            out.writeUTF("l");
            for (int i = 0; i < 100_000; i++) { out.writeByte(5); out.writeInt(1); }
            out.writeByte(1);
            out.writeLong(0);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertThatThrownBy(() -> DeviceState.decode(bytes.toByteArray()))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("nested too deeply");
    }

    @Test
    void fieldNamesMustBeUnique() {
        assertThatThrownBy(() -> DeviceState.builder("x", 1).put("a", 1).put("a", 2))
                .hasMessageContaining("'a' written twice");
    }
}
