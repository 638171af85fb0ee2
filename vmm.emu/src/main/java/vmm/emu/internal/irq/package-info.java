/**
 * The interrupt controllers and timers a PC has, in Java, for a back end with
 * no in-kernel irqchip: the 8259A pair ({@link vmm.emu.internal.irq.DualPic}),
 * the IOAPIC ({@link vmm.emu.internal.irq.IoApic}), a local APIC per vCPU
 * ({@link vmm.emu.internal.irq.LocalApic}) and the 8254 PIT
 * ({@link vmm.emu.internal.irq.Pit8254}). Each is a pure register model, not
 * thread-safe, with no bus inside; {@link vmm.emu.internal.irq.EmuIrqChip}
 * wires them as a PC under one lock, puts them on the buses and implements
 * the core's {@code IrqChip}; {@link vmm.emu.internal.irq.VcpuInterrupts} is
 * what a vCPU sees. One {@link vmm.emu.internal.cpu.VirtualClock} drives the
 * timers through a {@link vmm.emu.internal.irq.TimerScheduler}.
 */
package vmm.emu.internal.irq;
