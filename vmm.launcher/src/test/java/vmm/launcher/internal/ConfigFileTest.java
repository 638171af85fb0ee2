package vmm.launcher.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.internal.osgi.PcMachineComponent;

/** {@code -k FILE} and {@code -o KEY=VALUE} write the same configurations as the flags; every mistake names where it is. */
class ConfigFileTest {
    @TempDir
    Path dir;

    private Path rom() throws Exception {
        return Files.write(dir.resolve("rom.bin"), new byte[4096]);
    }

    private Path json(String text) throws Exception {
        return Files.writeString(dir.resolve("vm.json"), text);
    }

    private static Map<String, Object> config(Arguments.Plan plan, String pid, String name) {
        return plan.configs().stream().filter(c -> c.factoryPid().equals(pid) && java.util.Objects.equals(c.name(), name))
                .findFirst().orElseThrow(() -> new AssertionError("no " + pid + " " + name + " in " + plan)).properties();
    }

    @Test
    void aFileMakesTheSameConfigurationsAsTheEquivalentFlags() throws Exception {
        Path rom = rom(), img = Files.createFile(dir.resolve("disk.img")), log = dir.resolve("com2.log");
        Path file = json("""
                {
                  "name": "filevm", "cpus": 2, "memory": "128M", "bootrom": "%s",
                  "devices": {"0": "hostbridge", "4": "virtio-blk,%s,ro,ser=D1", "6:0": {"emulation": "virtio-rng", "max-bytes-per-request": 512}},
                  "serial": {"com1": "stdio", "com2": "log=%s"}
                }""".formatted(rom, img, log));
        Arguments.Plan fromFile = Arguments.parse(List.of("run", "-k", file.toString()));
        Arguments.Plan fromFlags = Arguments.parse(List.of("run", "-c", "2", "-m", "128M", "-l", "bootrom," + rom, "-s", "0,hostbridge",
                "-s", "4,virtio-blk," + img + ",ro,ser=D1", "-s", "6:0,virtio-rng,max-bytes-per-request=512", "-l", "com1,stdio",
                "-l", "com2,log=" + log, "filevm"));

        assertThat(fromFile.configs()).containsExactlyInAnyOrderElementsOf(fromFlags.configs());
        assertThat(config(fromFile, "vmm.device", "s4_0")).containsEntry("serial", "D1").containsEntry("ro", "true");
    }

    @Test
    void flagsNextToTheFileOverrideIt() throws Exception {
        Path rom = rom(), img = Files.createFile(dir.resolve("disk.img"));
        Path file = json("""
                {"name": "a", "cpus": 1, "memory": "64M", "bootrom": "%s", "devices": {"4": "virtio-rng", "5": "virtio-rng"},
                 "serial": {"com1": "stdio"}}""".formatted(rom));
        Arguments.Plan plan = Arguments.parse(List.of("run", "-k", file.toString(), "-c", "3", "-s", "4,virtio-blk," + img,
                "-l", "com1,none", "b"));

        assertThat(config(plan, "vmm.vm", null)).containsEntry("vcpus", 3).containsEntry("memory.size", "64M").containsEntry("name", "b");
        assertThat(config(plan, "vmm.device", "s4_0")).containsEntry("type", "virtio-blk");
        assertThat(config(plan, "vmm.device", "s5_0")).containsEntry("type", "virtio-rng");
        assertThat(config(plan, "vmm.device", "com1")).containsEntry("backend", "none");
    }

    @Test
    void aKernelOnTheCommandLineReplacesTheFilesBootRom() throws Exception {
        Path rom = rom(), kernel = Files.write(dir.resolve("bzImage"), ArgumentsTest.bzImageBytes());
        Path file = json("{\"bootrom\": \"" + rom + "\"}");
        Map<String, Object> vm = config(Arguments.parse(List.of("run", "-k", file.toString(), "--kernel", kernel.toString())), "vmm.vm", null);
        assertThat(vm).containsKey("kernel").doesNotContainKey("bootrom");
    }

    @Test
    void genericOptionsSetVmPropertiesThroughTheFlagsChecksAndDeviceOptionsInBhyvesStyle() throws Exception {
        Path rom = rom(), img = Files.createFile(dir.resolve("disk.img")), other = Files.createFile(dir.resolve("other.img"));
        Arguments.Plan plan = Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-s", "4,virtio-blk," + img,
                "-o", "vm.memory.size=96M", "-o", "pci.0.4.0.ser=X", "-o", "vm.serial.console=0x2f8", "-o", "pci.0.4.0.path=" + other));

        assertThat(config(plan, "vmm.vm", null)).containsEntry("memory.size", "96M").containsEntry("serial.console", 0x2f8);
        assertThat(config(plan, "vmm.device", "s4_0")).containsEntry("serial", "X").containsEntry("path", other.toString());
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "vm.memory.size=12Q")))
                .hasMessageStartingWith("-o vm.memory.size=12Q: ");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-s", "4,virtio-blk," + img,
                "-o", "pci.0.4.0.path=/no/such.img"))).hasMessageEndingWith("virtio-blk: /no/such.img: no such file");
    }

    @Test
    void unknownOptionKeysAreNamed() throws Exception {
        Path rom = rom();
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "vm.turbo=1")))
                .hasMessageStartingWith("-o vm.turbo=1: unknown key vm.turbo (vmm.vm has: vm.accel, vm.bootrom, vm.cmdline");
        assertThat(Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "acpi.x=1")).warnings())
                .containsExactly("warning: nothing here reads acpi.x (kept for %(var) references; a typo?)");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "pci.0.9.0.ser=A")))
                .hasMessageContaining("no device at slot 9:0");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-l", "bootrom," + rom, "-o", "novalue")))
                .hasMessageContaining("expected VAR=VALUE");
    }

    @Test
    void everyPropertyOfTheVmConfigurationCanBeSetWithO() {
        List<String> attributes = new ArrayList<>();
        for (Method m : PcMachineComponent.Config.class.getDeclaredMethods()) attributes.add(m.getName().replace('_', '.'));
        assertThat(Arguments.VM_KEYS).as("Arguments.VM_KEYS must list vmm.vm's attributes").containsExactlyInAnyOrderElementsOf(attributes);
    }

    @Test
    void syntaxErrorsNameTheFileLineAndColumn() throws Exception {
        Path file = json("{\n  \"cpus\": 2,\n  \"memory\": \"64M\",\n}\n");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .isInstanceOf(Arguments.UsageException.class).hasMessage(file + ":4:1: expected a key in double quotes, found '}'");
        Files.writeString(file, "{\"cpus\": 1, \"cpus\": 2}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString()))).hasMessage(file + ":1:13: key \"cpus\" appears twice in this object");
        Files.writeString(file, "{\"name\": \"a\nb\"}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString()))).hasMessageContaining(":1:12: control character U+000A inside a string");
        Files.writeString(file, "[1]");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString()))).hasMessageContaining("must hold one JSON object");
        Files.writeString(file, "{} x");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString()))).hasMessage(file + ":1:4: unexpected 'x' after the value");
        Files.writeString(file, "{\"cpus\": 01}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString()))).hasMessageContaining("leading zeros");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", dir.resolve("none.json").toString()))).hasMessageContaining("none.json: no such file");
    }

    @Test
    void badValuesNameTheFileLineColumnAndKey() throws Exception {
        Path rom = rom();
        Path file = json("{\"bootrom\": \"" + rom + "\",\n \"cpus\": 0}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString()))).hasMessage(file + ":2:2: cpus: must be 1..255");
        Files.writeString(file, "{\"bootrom\": \"" + rom + "\", \"turbo\": true}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .hasMessageStartingWith(file + ":1:" + (17 + rom.toString().length()) + ": turbo: unknown key (known: bootrom,");
        Files.writeString(file, "{\"bootrom\": \"/no/rom.bin\"}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .hasMessage(file + ":1:2: bootrom: boot ROM /no/rom.bin: no such file");
        Files.writeString(file, "{\"bootrom\": \"" + rom + "\", \"devices\": {\"4\": {\"emulation\": \"virtio-gpu\"}}}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .hasMessageContaining(": devices.4: unknown emulation 'virtio-gpu'");
        Files.writeString(file, "{\"bootrom\": \"" + rom + "\", \"devices\": {\"40\": \"virtio-rng\"}}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .hasMessageContaining(": devices.40: slot 40 is outside bus 0");
        Files.writeString(file, "{\"memory\": [1]}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .hasMessage(file + ":1:2: memory: must be a string, number or boolean, was an array");
        Files.writeString(file, "{\"bootrom\": \"" + rom + "\", \"options\": {\"vm.frobs\": 1}}");
        assertThatThrownBy(() -> Arguments.parse(List.of("run", "-k", file.toString())))
                .hasMessageContaining(": options.vm.frobs: unknown key vm.frobs");
    }
}
