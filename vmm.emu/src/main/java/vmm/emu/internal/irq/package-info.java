/**
 * The interrupt controllers and timers a PC has, in Java, for a back end with
 * no in-kernel irqchip: the 8259A pair, the IOAPIC, a local APIC per vCPU and
 * the 8254 PIT. Each is a pure register model driven by one virtual clock.
 */
package vmm.emu.internal.irq;
