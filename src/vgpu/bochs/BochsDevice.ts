import { Emitter } from '../../base/Emitter.ts';
import type { Event } from '../../base/Emitter.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DecodedPlane, DisplayEvent, MediatedDevice } from '../Plane.ts';
import {
  PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_32, PCI_CFG, PCI_CLASS_DISPLAY_OTHER,
  PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_SUBDEVICE_ID_QEMU, PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
  PciConfigSpace,
} from '../region/PciConfigSpace.ts';
import { checkBochsMode } from './BochsMode.ts';
import type { BochsMode } from './BochsMode.ts';
import {
  BOCHS_EDID_MAX_SIZE, BOCHS_MMIO, BOCHS_MMIO_SIZE, BOCHS_PCI_DEVICE_ID, BOCHS_PCI_VENDOR_ID,
  DISPI, DISPI_COUNT, DISPI_ID5,
} from './BochsRegisters.ts';

export interface BochsDeviceOptions {
  /** The VM's memory; VRAM is a page range inside it so the guest worker can draw into it. */
  readonly memory: GuestMemory;
  /** First guest page of VRAM: VRAM byte o lives at guest byte vramFirstPage*4096 + o. */
  readonly vramFirstPage: number;
  readonly vramPages: number;
  /** EDID region `max_xres`/`max_yres` hint (see MBOCHS_TYPES); 0 = unlimited. Not enforced. */
  readonly maxXres?: number;
  readonly maxYres?: number;
}

/** The EDID as the guest sees it through MMIO 0x000–0x3FF. */
export interface BochsEdid {
  /** The blob (a copy, at most BOCHS_EDID_MAX_SIZE bytes), or undefined when none is set. */
  readonly blob: Uint8Array | undefined;
  readonly linkUp: boolean;
}

const VRAM_64K = 64 * 1024;

/**
 * An mbochs-compatible device model: Bochs DISPI registers in an MMIO BAR decide which part of
 * VRAM (BAR0) is scanned out. Register semantics only; the vfio layer encodes the ABI.
 *
 * Differences from samples/vfio-mdev/mbochs.c, on purpose:
 *  - B12: upstream's first QUERY after a mode change fails with -ENOMEM (the buffer it allocates
 *    is discarded). There is nothing to emulate here: decodePlane always answers from the
 *    registers, so the first query after a mode change succeeds.
 *  - VIDEO_MEMORY_64K is read-only (upstream stores whatever the guest writes).
 *  - EDID bytes past the blob read as 0 (upstream can read past its 0x400-byte array).
 *  - BAR0 accesses through `vramView` hit the offset asked for: upstream's pread/pwrite land
 *    8192 bytes off (it subtracts the MMIO BAR offset) and can index past its page array.
 *  - No guest-driven cache lives here (B16): only the last decoded plane is kept.
 */
export class BochsDevice implements MediatedDevice {
  public readonly kind = 'bochs' as const;
  public readonly memory: GuestMemory;
  public readonly vramFirstPage: number;
  public readonly vramPages: number;
  public readonly vramBytes: number;
  public readonly maxXres: number;
  public readonly maxYres: number;

  private readonly _regs = new Uint16Array(DISPI_COUNT);
  private _pages: { readonly first: number; readonly pages: Uint32Array } | undefined;
  private readonly _config = new PciConfigSpace();
  private readonly _onDisplayEvent = new Emitter<DisplayEvent>();
  public readonly onDisplayEvent: Event<DisplayEvent> = this._onDisplayEvent.event;
  /** Last decode of the primary plane; undefined = registers changed since. */
  private _plane: DecodedPlane | null | undefined;
  private _edidBlob = new Uint8Array(BOCHS_EDID_MAX_SIZE);
  private _edidSize = 0;
  private _linkUp = false;
  private _vblanks = 0;

  public constructor(options: BochsDeviceOptions) {
    const { memory, vramFirstPage, vramPages } = options;
    if (!Number.isInteger(vramFirstPage) || vramFirstPage < 0) {
      throw new RangeError(`vramFirstPage must be a non-negative integer, got ${vramFirstPage}`);
    }
    if (!Number.isInteger(vramPages) || vramPages <= 0) {
      throw new RangeError(`vramPages must be a positive integer, got ${vramPages}`);
    }
    if (vramFirstPage + vramPages > memory.pageCount) {
      throw new RangeError(
        `VRAM pages ${vramFirstPage}+${vramPages} outside guest memory of ${memory.pageCount} pages`);
    }
    const vramBytes = vramPages * PAGE_SIZE;
    if (Math.floor(vramBytes / VRAM_64K) > 0xffff) {
      throw new RangeError(`VRAM of ${vramBytes} bytes does not fit VIDEO_MEMORY_64K (u16)`);
    }
    const maxXres = options.maxXres ?? 0;
    const maxYres = options.maxYres ?? 0;
    for (const [name, v] of [['maxXres', maxXres], ['maxYres', maxYres]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`${name} must be a u32, got ${v}`);
      }
    }
    this.memory = memory;
    this.vramFirstPage = vramFirstPage;
    this.vramPages = vramPages;
    this.vramBytes = vramBytes;
    this.maxXres = maxXres;
    this.maxYres = maxYres;
    this._initConfig();
    this._resetRegs();
  }

  // ---- MMIO BAR (BAR2) --------------------------------------------------------------------------

  /**
   * A guest read of `size` bytes at `offset` in the MMIO BAR, little-endian. Never throws: an
   * access outside the 4 KiB window, of another size, or to an unhandled range reads 0. As
   * upstream, the range is chosen by the start offset and a DISPI read must be 16-bit;
   * index = (offset - 0x500) >> 1, so an odd offset reads the register below it.
   */
  public mmioRead(offset: number, size: number): number {
    if (!validAccess(offset, size, BOCHS_MMIO_SIZE)) return 0;
    if (offset < BOCHS_MMIO.EDID_END) return this._readEdid(offset, size);
    if (offset >= BOCHS_MMIO.DISPI_START && offset < BOCHS_MMIO.DISPI_END) {
      if (size !== 2) return 0;
      return this._regs[(offset - BOCHS_MMIO.DISPI_START) >> 1]!;
    }
    return 0; // VGA ports, QEMU extended registers, holes
  }

  /** A guest write. Only 16-bit DISPI writes do anything; everything else is ignored. */
  public mmioWrite(offset: number, size: number, value: number): void {
    if (!validAccess(offset, size, BOCHS_MMIO_SIZE)) return;
    if (offset < BOCHS_MMIO.DISPI_START || offset >= BOCHS_MMIO.DISPI_END || size !== 2) return;
    this._writeDispi((offset - BOCHS_MMIO.DISPI_START) >> 1, value & 0xffff);
  }

  /** Current value of DISPI register `index` (0 for an unknown index). */
  public dispi(index: number): number {
    return Number.isInteger(index) && index >= 0 && index < DISPI_COUNT ? this._regs[index]! : 0;
  }

  // ---- EDID -------------------------------------------------------------------------------------

  /**
   * Set what the vfio EDID region holds: the blob (copied; bytes beyond BOCHS_EDID_MAX_SIZE are
   * dropped, where upstream leaves edid_size unclamped) and the link state. The guest sees the
   * blob in MMIO 0x000–0x3FF only while the link is up. Never throws.
   */
  public setEdid(blob: Uint8Array | undefined, linkUp: boolean): void {
    this._edidBlob = new Uint8Array(BOCHS_EDID_MAX_SIZE);
    this._edidSize = 0;
    if (blob) {
      this._edidSize = Math.min(blob.length, BOCHS_EDID_MAX_SIZE);
      this._edidBlob.set(blob.subarray(0, this._edidSize));
    }
    this._linkUp = linkUp;
  }

  public get edid(): BochsEdid {
    return {
      blob: this._edidSize > 0 ? this._edidBlob.slice(0, this._edidSize) : undefined,
      linkUp: this._linkUp,
    };
  }

  // ---- VRAM (BAR0) ------------------------------------------------------------------------------

  /**
   * A zero-copy view of VRAM bytes [offset, offset + length) inside guest memory, for BAR0
   * pread/pwrite and mmap. Throws RangeError unless the whole range lies in VRAM (the vfio layer
   * checks the region size first and returns its errno). Unlike upstream there is no 8192-byte
   * skew: VRAM offset 0 is BAR0 offset 0.
   */
  public vramView(offset: number, length: number): Uint8Array {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
        offset + length > this.vramBytes) {
      throw new RangeError(`VRAM bytes ${offset}+${length} outside VRAM of ${this.vramBytes} bytes`);
    }
    return this.memory.view(this.vramFirstPage * PAGE_SIZE + offset, length);
  }

  // ---- PCI config -------------------------------------------------------------------------------

  /** Config-space read (1, 2 or 4 bytes, little-endian); 0 outside the 256-byte space. */
  public configRead(offset: number, size: number): number {
    return this._config.read(offset, size);
  }

  /** Config-space write: only 4-byte BAR0/BAR2 writes (sizing, address) have an effect. */
  public configWrite(offset: number, size: number, value: number): void {
    this._config.write(offset, size, value);
  }

  // ---- MediatedDevice ---------------------------------------------------------------------------

  /** The validated mode, or undefined while the display is disabled or the mode invalid. */
  public get mode(): BochsMode | undefined {
    return checkBochsMode(this._regs, this.vramBytes);
  }

  /**
   * PRIMARY: the scanout described by the DISPI registers, or null (disabled/invalid mode).
   * Any other type: null, as mbochs answers cursor/overlay queries with an empty plane and
   * success. `start` is the VRAM byte offset; mbochs exports only a page-aligned start, so the
   * vfio layer fails GET with -EINVAL when `start % 4096 !== 0` (QUERY still succeeds).
   * The result is cached until a register changes; callers must not modify it.
   */
  public decodePlane(planeType: number): DecodedPlane | null {
    if (planeType !== PlaneType.PRIMARY) return null;
    if (this._plane === undefined) this._plane = this._decodePrimary();
    return this._plane;
  }

  /** Bochs has no vblank-latched registers (writes take effect at once): this only counts. */
  public vblank(): void {
    this._vblanks++;
  }

  public get vblankCount(): number {
    return this._vblanks;
  }

  /** VFIO_DEVICE_RESET: DISPI registers back to reset values (EDID kept, as upstream). */
  public reset(): void {
    this._resetRegs();
    this._onDisplayEvent.fire({ kind: 'mode', planeType: PlaneType.PRIMARY });
  }

  public dispose(): void {
    this._onDisplayEvent.dispose();
  }

  // ---- internals --------------------------------------------------------------------------------

  /**
   * VRAM pages [first, end) as guest pages. The same array while the range stays (a QUERY per
   * refresh allocates nothing, and the exporter's remembered keys hold); callers must not modify it.
   */
  private _pagesOf(first: number, end: number): Uint32Array {
    const last = this._pages;
    if (last !== undefined && last.first === first && last.pages.length === end - first) return last.pages;
    const pages = new Uint32Array(end - first);
    for (let i = 0; i < pages.length; i++) pages[i] = this.vramFirstPage + first + i;
    this._pages = { first, pages };
    return pages;
  }

  private _decodePrimary(): DecodedPlane | null {
    const mode = checkBochsMode(this._regs, this.vramBytes);
    if (!mode) return null;
    // Pages covering [offset, offset + size), rounded out: an unaligned pan still names every
    // byte it shows (it cannot be exported, but QUERY reports it).
    const first = Math.floor(mode.offset / PAGE_SIZE);
    const end = Math.ceil((mode.offset + mode.size) / PAGE_SIZE);
    return {
      drmFormat: mode.drmFormat,
      modifier: DRM_FORMAT_MOD.LINEAR,
      width: mode.width,
      height: mode.height,
      stride: mode.stride,
      size: mode.size,
      start: mode.offset,
      pages: this._pagesOf(first, end),
      xPos: 0,
      yPos: 0,
      // mbochs reports 0, not HOTSPOT_UNKNOWN (0xFFFFFFFF), for the hotspot: kept for fidelity.
      xHot: 0,
      yHot: 0,
    };
  }

  private _writeDispi(index: number, value: number): void {
    if (index >= DISPI_COUNT || index === DISPI.VIDEO_MEMORY_64K) return;
    if (this._regs[index] === value) return;
    this._regs[index] = value;
    this._plane = undefined;
    switch (index) {
      case DISPI.ENABLE:
      case DISPI.XRES:
      case DISPI.YRES:
      case DISPI.BPP:
      case DISPI.VIRT_WIDTH:
        this._onDisplayEvent.fire({ kind: 'mode', planeType: PlaneType.PRIMARY });
        break;
      case DISPI.X_OFFSET:
      case DISPI.Y_OFFSET:
        // Panning is how a bochs guest page-flips.
        this._onDisplayEvent.fire({ kind: 'flip', planeType: PlaneType.PRIMARY });
        break;
      default:
        break; // ID, BANK, VIRT_HEIGHT: no effect on the scanout
    }
  }

  private _readEdid(offset: number, size: number): number {
    if (!this._linkUp || offset >= this._edidSize) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const k = offset + i;
      v = v * 256 + (k < this._edidSize ? this._edidBlob[k]! : 0);
    }
    return v;
  }

  private _resetRegs(): void {
    this._regs.fill(0);
    this._regs[DISPI.ID] = DISPI_ID5;
    this._regs[DISPI.VIDEO_MEMORY_64K] = Math.floor(this.vramBytes / VRAM_64K);
    this._plane = undefined;
  }

  private _initConfig(): void {
    const c = this._config;
    c.set16(PCI_CFG.VENDOR_ID, BOCHS_PCI_VENDOR_ID);
    c.set16(PCI_CFG.DEVICE_ID, BOCHS_PCI_DEVICE_ID);
    c.set16(PCI_CFG.SUBSYSTEM_VENDOR_ID, PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
    c.set16(PCI_CFG.SUBSYSTEM_ID, PCI_SUBDEVICE_ID_QEMU);
    c.set16(PCI_CFG.COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    c.set16(PCI_CFG.CLASS_DEVICE, PCI_CLASS_DISPLAY_OTHER);
    c.set8(PCI_CFG.CLASS_REVISION, 0x01);
    // BAR sizes must be powers of two; VRAM need not be, so size BAR0 by rounding up.
    c.defineBar(PCI_CFG.BASE_ADDRESS_0, roundUpPow2(this.vramBytes),
      PCI_BASE_ADDRESS_MEM_TYPE_32 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    c.defineBar(PCI_CFG.BASE_ADDRESS_2, BOCHS_MMIO_SIZE, PCI_BASE_ADDRESS_MEM_TYPE_32);
  }
}

function validAccess(offset: number, size: number, limit: number): boolean {
  return (size === 1 || size === 2 || size === 4) && Number.isInteger(offset) && offset >= 0 &&
    offset + size <= limit;
}

function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
