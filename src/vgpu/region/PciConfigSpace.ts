/** Standard PCI config-space offsets and values the sample mdev devices use (linux/pci_regs.h). */
export const PCI_CFG = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  CLASS_REVISION: 0x08,
  CLASS_DEVICE: 0x0a,
  BASE_ADDRESS_0: 0x10,
  BASE_ADDRESS_2: 0x18,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  CAPABILITY_LIST: 0x34,
} as const;

export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_CLASS_DISPLAY_OTHER = 0x0380;
export const PCI_CAP_ID_VNDR = 0x09;
/** BAR flag bits: memory space, 32-bit, prefetchable. */
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x0;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;
/** Low four bits of a memory BAR are flags; the rest is the address. */
const BAR_FLAGS_MASK = 0x0f;
/** "Red Hat / QEMU" subsystem ids both samples report. */
export const PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_SUBDEVICE_ID_QEMU = 0x1100;

/** Bytes of storage; both samples report a 0xFF-byte config region (their off-by-one). */
export const PCI_CONFIG_SPACE_BYTES = 256;

/**
 * A small emulated PCI config space (256 bytes, little-endian) with memory-BAR sizing, the
 * only write both mdev samples honour. Reads and writes never throw: an access outside the space
 * reads 0 and writes nothing.
 */
export class PciConfigSpace {
  private readonly _bytes = new Uint8Array(PCI_CONFIG_SPACE_BYTES);
  private readonly _view = new DataView(this._bytes.buffer);
  /** BAR offset → size mask (`~size + 1`, i.e. -size as u32). */
  private readonly _barMasks = new Map<number, number>();

  public set8(offset: number, value: number): void { this._view.setUint8(offset, value); }
  public set16(offset: number, value: number): void { this._view.setUint16(offset, value, true); }
  public set32(offset: number, value: number): void { this._view.setUint32(offset, value >>> 0, true); }

  /** Declare a 32-bit memory BAR of a power-of-two `size` bytes with its flag bits. */
  public defineBar(offset: number, size: number, flags: number): void {
    this._barMasks.set(offset, (-size) >>> 0);
    this.set32(offset, flags & BAR_FLAGS_MASK);
  }

  /** `size` bytes (1, 2 or 4) little-endian from `offset`; 0 for a bad access. */
  public read(offset: number, size: number): number {
    if (!this._inRange(offset, size)) return 0;
    switch (size) {
      case 1: return this._view.getUint8(offset);
      case 2: return this._view.getUint16(offset, true);
      default: return this._view.getUint32(offset, true);
    }
  }

  /**
   * A guest/VMM config write. Only a 4-byte write to a declared BAR is honoured (all-ones asks for
   * the size mask, anything else sets the address; the flag bits stay). Upstream mdpy/mbochs
   * switch on the offset alone and read a u32 even for a 1- or 2-byte write (a stack over-read);
   * we ignore those instead.
   */
  public write(offset: number, size: number, value: number): void {
    if (size !== 4 || !this._inRange(offset, size)) return;
    const mask = this._barMasks.get(offset);
    if (mask === undefined) return;
    const v = value >>> 0;
    const addr = v === 0xffffffff ? (v & mask) >>> 0 : (v & ~BAR_FLAGS_MASK) >>> 0;
    const flags = this._view.getUint8(offset) & BAR_FLAGS_MASK;
    this.set32(offset, addr | flags);
  }

  /** A copy of the whole space (debug, inspector). */
  public snapshot(): Uint8Array {
    return this._bytes.slice();
  }

  private _inRange(offset: number, size: number): boolean {
    return (size === 1 || size === 2 || size === 4) && Number.isInteger(offset) && offset >= 0 &&
      offset + size <= PCI_CONFIG_SPACE_BYTES;
  }
}
