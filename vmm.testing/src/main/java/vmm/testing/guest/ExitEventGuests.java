package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.StopReport;

/** A Flight Recorder recording holds a vmm.VmExit event for each exit the vCPU loop handles, with its reason and port. */
public interface ExitEventGuests extends GuestBackEnd {
    @Test
    default void eachPortExitAndTheHaltAreRecordedWithReasonPortSizeAndDirection(@TempDir Path dir) throws Exception {
        Path jfr = dir.resolve("exits.jfr");
        try (GuestVm t = vm(false); Recording r = new Recording()) {
            t.ports.register("test", 0xE0, 4, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { }
            });
            Asm a = Asm.real(0x1000).movAl(0x42).outImmAl(0xE0).inAlImm(0xE1).movAx(0xBEEF).outImmAx(0xE2).hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            r.enable("vmm.VmExit");
            r.start();
            t.start();
            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            r.stop();
            r.dump(jfr);
        }
        List<RecordedEvent> exits = RecordingFile.readAllEvents(jfr).stream()
                .filter(e -> e.getEventType().getName().equals("vmm.VmExit")).toList();
        List<String> io = exits.stream().filter(e -> e.getString("reason").equals("KVM_EXIT_IO"))
                .map(e -> String.format("%s 0x%x/%d count %d", e.getBoolean("write") ? "out" : "in", e.getLong("address"),
                        e.getInt("size"), e.getInt("count"))).toList();
        assertThat(io).containsExactly("out 0xe0/1 count 1", "in 0xe1/1 count 1", "out 0xe2/2 count 1");
        assertThat(exits).anySatisfy(e -> assertThat(e.getString("reason")).isEqualTo("KVM_EXIT_HLT"));
        assertThat(exits).allSatisfy(e -> {
            assertThat(e.getInt("vcpu")).isZero();
            assertThat(e.getDuration().isNegative()).isFalse();
        });
    }
}
