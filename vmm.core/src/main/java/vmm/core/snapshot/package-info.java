/**
 * The snapshot file of a whole VM: {@link vmm.core.snapshot.SnapshotWriter}
 * writes it front to back to any channel, {@link vmm.core.snapshot.SnapshotReader}
 * reads it back from a seekable one, treating it as untrusted input. Pure
 * format: pausing the VM and collecting its parts is the caller's work.
 *
 * <p>A file is a header, a sequence of self-describing sections and an end
 * marker. Integers are big-endian (as in {@link vmm.core.device.DeviceState}'s
 * binary form); text is UTF-8 of 1 to 255 bytes on one line (a type may be
 * empty); every checksum is CRC-32C ({@link java.util.zip.CRC32C}).
 *
 * <table>
 * <caption>Header</caption>
 * <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 * <tr><td>0</td><td>8</td><td>magic {@code VMM-SNAP}</td></tr>
 * <tr><td>8</td><td>4</td><td>format version, 1 (a newer one is refused before anything else is read)</td></tr>
 * <tr><td>12</td><td>8</td><td>creation time, milliseconds since the epoch</td></tr>
 * <tr><td>20</td><td>2</td><td>length W of the writer's name</td></tr>
 * <tr><td>22</td><td>W</td><td>the writer: the VMM's name and version</td></tr>
 * <tr><td>22+W</td><td>4</td><td>CRC-32C of bytes 0 to 22+W</td></tr>
 * </table>
 *
 * <table>
 * <caption>Section</caption>
 * <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 * <tr><td>0</td><td>4</td><td>kind: {@code "MEM "}, {@code "VCPU"}, {@code "PLAT"} or {@code "DEV "}
 *     ({@link vmm.core.snapshot.SectionKind})</td></tr>
 * <tr><td>4</td><td>4</td><td>section version, 1 for every kind</td></tr>
 * <tr><td>8</td><td>8</td><td>payload length L</td></tr>
 * <tr><td>16</td><td>2</td><td>length N of the name</td></tr>
 * <tr><td>18</td><td>N</td><td>name: the region name, the vCPU index in decimal, the platform part, the device
 *     instance id; unique within its kind</td></tr>
 * <tr><td>18+N</td><td>2</td><td>length T of the type</td></tr>
 * <tr><td>20+N</td><td>T</td><td>type: {@code ram}, the state's type, for a device the device type</td></tr>
 * <tr><td>20+N+T</td><td>4</td><td>CRC-32C of the section header, bytes 0 to 20+N+T</td></tr>
 * <tr><td>24+N+T</td><td>L</td><td>payload</td></tr>
 * <tr><td>24+N+T+L</td><td>4</td><td>CRC-32C of the payload (after it, so memory is written in one pass)</td></tr>
 * </table>
 *
 * <p>The payload of a vCPU, platform or device section is the
 * {@link vmm.core.device.DeviceState#encode()} form of its state: versioned
 * key/value state has one encoding, whether a swap or a snapshot carries it.
 *
 * <table>
 * <caption>Memory payload (version 1)</caption>
 * <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 * <tr><td>0</td><td>8</td><td>guest-physical base, 4 KiB aligned</td></tr>
 * <tr><td>8</td><td>8</td><td>size in bytes, a non-zero multiple of 4 KiB</td></tr>
 * <tr><td>16</td><td>...</td><td>runs until the pages of the region are covered exactly, each: 4 bytes, Z
 *     all-zero pages (not written); 4 bytes, D pages; D &times; 4096 bytes, those pages. Z + D &ge; 1</td></tr>
 * </table>
 *
 * <table>
 * <caption>End marker</caption>
 * <tr><th>offset</th><th>bytes</th><th>field</th></tr>
 * <tr><td>0</td><td>4</td><td>{@code "END "}</td></tr>
 * <tr><td>4</td><td>4</td><td>number of sections</td></tr>
 * <tr><td>8</td><td>4</td><td>CRC-32C of the section table: every section header with its checksum, in
 *     order</td></tr>
 * </table>
 *
 * <p>Nothing follows the end marker. A file that is foreign, newer, truncated
 * or corrupt, or that holds a kind or version this build does not read, is a
 * {@link vmm.core.snapshot.SnapshotFormatException}: one line naming what is
 * wrong, the offset and the section.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.core.snapshot;
