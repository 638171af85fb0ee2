/**
 * What a UART's serial line connects to on the host: the terminal, a TCP or
 * Unix-domain listener, a log file. Input is read only as far as the
 * receiver has room; output goes through a bounded queue and is dropped,
 * counted, when the peer cannot keep up. Private to the bundle; a launcher
 * names back ends by their configuration string.
 */
package device.uart.backend;
