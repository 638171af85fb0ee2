/**
 * The 16550A as a pure state machine ({@link device.uart.model.UartModel})
 * and its register layout ({@link device.uart.model.UartRegisters}): no bus,
 * thread, clock or back end, so every behaviour is testable register by
 * register. Private to the bundle.
 */
package device.uart.model;
