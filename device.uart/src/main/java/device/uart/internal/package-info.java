/**
 * The wiring: the model behind a lock on eight I/O ports with an interrupt
 * line ({@link device.uart.internal.Uart}), its configuration, and the
 * Declarative Services component per {@code device.uart} factory
 * configuration. Private to the bundle.
 */
package device.uart.internal;
