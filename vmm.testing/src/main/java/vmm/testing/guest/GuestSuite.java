package vmm.testing.guest;

/**
 * Every guest test, for one back end: a test class in the back end's module implements this and
 * {@link GuestBackEnd#openHypervisor()}, and JUnit runs the lot. Real, protected and long mode;
 * port and MMIO exits, string I/O, ROM and device memory; exit events; interrupts from the
 * IOAPIC, MSIs, irqfds and resampling irqfds; ioeventfds; a second vCPU by INIT/SIPI; kicks,
 * pause and resume; a triple fault and a device that throws.
 */
public interface GuestSuite extends RealModeGuests, ProtectedModeGuests, LongModeGuests, MmioGuests,
        DeviceMemoryGuests, ExitEventGuests, GuestFailures, InterruptGuests, ResamplingIrqFdGuests,
        IoEventFdGuests, KickGuests, SecondVcpuGuests {
}
