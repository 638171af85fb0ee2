/**
 * The platform a PC guest expects: {@link vmm.core.platform.PcPlatform}
 * lays out PC memory and installs the chipset, fw_cfg and firmware
 * interfaces on a machine; {@link vmm.core.platform.PowerControl} is how the
 * guest's power-off and reset reach whoever runs the machine.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.5.0")
package vmm.core.platform;
