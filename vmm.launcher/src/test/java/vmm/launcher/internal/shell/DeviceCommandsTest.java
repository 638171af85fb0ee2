package vmm.launcher.internal.shell;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.device.DeviceCounters;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.pci.PciAddress;

/** {@code device:stats} shows each instance's counters as they are now, by slot. */
class DeviceCommandsTest {
    private static DeviceInstanceInfo info(String id, int slot, DeviceCounters counters) {
        return new DeviceInstanceInfo() {
            @Override public String id() { return id; }
            @Override public String type() { return "virtio-blk"; }
            @Override public PciAddress address() { return PciAddress.slot(slot); }
            @Override public String implementation() { return counters == null ? null : "virtio-blk"; }
            @Override public DeviceInstance.Status status() { return null; }
            @Override public int swapCount() { return 0; }
            @Override public DeviceInstance instance() { return null; }
            @Override public DeviceCounters counters() { return counters; }
        };
    }

    @Test
    void statsShowsRequestsBytesAndErrorsPerInstanceInSlotOrder() {
        DeviceCounters disk = new DeviceCounters("vmm.device~s5_0");
        disk.completed(513);
        disk.completed(1);
        disk.failed();
        String table = DeviceCommands.stats(List.of(info("vmm.device~s5_0", 5, disk), info("vmm.device~s4_0", 4, null)));

        List<String> lines = table.lines().toList();
        assertThat(lines.get(0)).containsSubsequence("instance", "slot", "type", "requests", "bytes", "errors");
        assertThat(lines.get(1)).startsWith("vmm.device~s4_0").containsPattern("virtio-blk\\s+-\\s+-\\s+-$");
        assertThat(lines.get(2)).startsWith("vmm.device~s5_0").containsPattern("00:05.0\\s+virtio-blk\\s+2\\s+514\\s+1$");

        disk.completed(100);
        assertThat(DeviceCommands.stats(List.of(info("vmm.device~s5_0", 5, disk)))).containsPattern("\\s+3\\s+614\\s+1$");
    }

    @Test
    void aServedDeviceIsListedAtItsSocketAndFoundByItsIdOrSocket() {
        DeviceInstanceInfo served = new DeviceInstanceInfo() {
            @Override public String id() { return "vmm.vhost-user~cli"; }
            @Override public String type() { return "virtio-net"; }
            @Override public PciAddress address() { return null; }
            @Override public String implementation() { return "viona"; }
            @Override public DeviceInstance.Status status() { return DeviceInstance.Status.DETACHED; }
            @Override public int swapCount() { return 1; }
            @Override public DeviceInstance instance() { return null; }
            @Override public String location() { return "vhost-user unix /tmp/net.sock"; }
        };
        List<DeviceInstanceInfo> all = List.of(served, info("vmm.device~s4_0", 4, null));

        List<String> lines = DeviceCommands.stats(all).lines().toList();
        assertThat(lines.get(1)).startsWith("vmm.device~s4_0");
        assertThat(lines.get(2)).startsWith("vmm.vhost-user~cli").contains("vhost-user unix /tmp/net.sock");
        assertThat(DeviceCommands.find(all, "vmm.vhost-user~cli")).isSameAs(served);
        assertThat(DeviceCommands.find(all, "vhost-user unix /tmp/net.sock")).isSameAs(served);
        assertThat(DeviceCommands.find(all, "s4_0").id()).isEqualTo("vmm.device~s4_0");
    }

    @Test
    void aSlotIsWrittenAsANumberASlotAndFunctionOrAPciAddress() {
        assertThat(DeviceCommands.slot("6")).isEqualTo(PciAddress.slot(6));
        assertThat(DeviceCommands.slot(" 6:0 ")).isEqualTo(PciAddress.slot(6));
        assertThat(DeviceCommands.slot("7:2")).isEqualTo(new PciAddress(0, 7, 2));
        assertThat(DeviceCommands.slot("00:06.0")).isEqualTo(PciAddress.slot(6));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DeviceCommands.slot("32"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
