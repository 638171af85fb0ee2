package device.pci_passthru.internal;

import device.pci_passthru.internal.kernel.FakePciDevice;
import device.pci_passthru.internal.kernel.FakeVfioKernel;
import device.pci_passthru.vfio.VfioDevice;
import vmm.core.pci.PciAddress;
import vmm.testing.PciHarness;
import vmm.testing.TestMachine;

/**
 * A machine without a CPU (the kit's), the fake KVM side, and a fake host PCI
 * device behind the fake VFIO kernel, passed through at 00:05.0.
 */
final class PassthroughRig implements AutoCloseable {
    static final PciAddress AT = PciAddress.slot(5);
    final TestMachine tm = TestMachine.create();
    final FakeVm vm = new FakeVm(tm.memory());
    final FakePciDevice device;
    final FakeVfioKernel kernel;
    final VfioDevice vfio;
    final PassthroughFunction function;
    final PciHarness pci;

    PassthroughRig() {
        this(FakePciDevice.standard());
    }

    PassthroughRig(FakePciDevice device) {
        this.device = device;
        kernel = new FakeVfioKernel(device, n -> vm.byNumber.get(n)::signal);
        kernel.registerUnmask = vm::onSignal;
        vfio = kernel.open();
        function = PassthroughFunction.attach("passthru 0:5.0", AT, vfio, tm.machine().pci(), tm.machine().ioPorts(),
                tm.machine().mmio(), vm, tm.memory());
        pci = tm.pci();
    }

    int read8(int off) { return pci.read8(AT, off); }
    int read16(int off) { return pci.read16(AT, off); }
    int read32(int off) { return pci.read32(AT, off); }
    void write8(int off, int v) { pci.write8(AT, off, v); }
    void write16(int off, int v) { pci.write16(AT, off, v); }
    void write32(int off, int v) { pci.write32(AT, off, v); }

    @Override
    public void close() {
        function.close();
        vfio.close();
        tm.close();
    }
}
