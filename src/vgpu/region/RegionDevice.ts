import { Emitter } from '../../base/Emitter.ts';
import type { Event } from '../../base/Emitter.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT, formatInfo } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DecodedPlane, DisplayEvent, MediatedDevice } from '../Plane.ts';
import {
  MDPY_FORMAT_OFFSET, MDPY_HEIGHT_OFFSET, MDPY_PCI_DEVICE_ID, MDPY_PCI_VENDOR_ID,
  MDPY_VENDORCAP_OFFSET, MDPY_VENDORCAP_SIZE, MDPY_WIDTH_OFFSET, mdpyMemsize,
} from './MdpyTypes.ts';
import {
  PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_32, PCI_CAP_ID_VNDR, PCI_CFG,
  PCI_CLASS_DISPLAY_OTHER, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_STATUS_CAP_LIST,
  PCI_SUBDEVICE_ID_QEMU, PCI_SUBVENDOR_ID_REDHAT_QUMRANET, PciConfigSpace,
} from './PciConfigSpace.ts';

export interface RegionDeviceOptions {
  /** The VM's memory; the framebuffer is a page range inside it. */
  readonly memory: GuestMemory;
  /** First guest page of the framebuffer (memsize bytes, rounded up to whole pages). */
  readonly fbFirstPage: number;
  readonly width: number;
  readonly height: number;
  /** DRM fourcc; default XRGB8888 (every mdpy type uses it). Must be a known format. */
  readonly format?: number;
  /** Paint mdpy's gray gradient at creation and on reset (default true, as upstream). */
  readonly grayGradient?: boolean;
}

const MAX_DIMENSION = 16384;

/**
 * An mdpy-compatible device model (spec §5): a fixed framebuffer whose layout the guest learns
 * from a vendor capability in config space. The host reads pixels through a region (a copy), so
 * there is no dma-buf and nothing to latch.
 *
 * Difference from samples/vfio-mdev/mdpy.c, on purpose: upstream's BAR0 pread/pwrite ignore the
 * file position and always hit offset 0; `fbView` honours the offset.
 */
export class RegionDevice implements MediatedDevice {
  public readonly kind = 'region' as const;
  public readonly memory: GuestMemory;
  public readonly fbFirstPage: number;
  /** Framebuffer bytes: roundup_pow_of_two(width × height × bytepp); the region size. */
  public readonly memsize: number;
  /** Guest pages the framebuffer occupies: ceil(memsize / 4096). */
  public readonly fbPages: number;
  public readonly width: number;
  public readonly height: number;
  public readonly format: number;
  public readonly bytepp: number;
  public readonly stride: number;

  private readonly _config = new PciConfigSpace();
  private readonly _plane: DecodedPlane;
  private readonly _gradient: boolean;
  private readonly _onDisplayEvent = new Emitter<DisplayEvent>();
  public readonly onDisplayEvent: Event<DisplayEvent> = this._onDisplayEvent.event;

  public constructor(options: RegionDeviceOptions) {
    const { memory, fbFirstPage, width, height } = options;
    const format = (options.format ?? DRM_FORMAT.XRGB8888) >>> 0;
    const info = formatInfo(format);
    if (!info) throw new RangeError(`unknown DRM format 0x${format.toString(16)}`);
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > MAX_DIMENSION) {
        throw new RangeError(`${name} must be an integer in 1..${MAX_DIMENSION}, got ${v}`);
      }
    }
    if (!Number.isInteger(fbFirstPage) || fbFirstPage < 0) {
      throw new RangeError(`fbFirstPage must be a non-negative integer, got ${fbFirstPage}`);
    }
    const memsize = mdpyMemsize(width, height, info.cpp);
    const fbPages = Math.ceil(memsize / PAGE_SIZE);
    if (fbFirstPage + fbPages > memory.pageCount) {
      throw new RangeError(
        `framebuffer pages ${fbFirstPage}+${fbPages} outside guest memory of ${memory.pageCount} pages`);
    }
    this.memory = memory;
    this.fbFirstPage = fbFirstPage;
    this.memsize = memsize;
    this.fbPages = fbPages;
    this.width = width;
    this.height = height;
    this.format = format;
    this.bytepp = info.cpp;
    this.stride = width * info.cpp;
    this._gradient = options.grayGradient ?? true;

    const pages = new Uint32Array(fbPages);
    for (let i = 0; i < fbPages; i++) pages[i] = fbFirstPage + i;
    this._plane = {
      drmFormat: format,
      modifier: DRM_FORMAT_MOD.LINEAR,
      width,
      height,
      stride: this.stride,
      // mdpy reports the region size, not stride × height.
      size: memsize,
      start: 0,
      pages,
      xPos: 0,
      yPos: 0,
      // mdpy reports 0 (not HOTSPOT_UNKNOWN): there is no cursor.
      xHot: 0,
      yHot: 0,
    };
    this._initConfig();
    this._paint();
  }

  /** Config-space read (1, 2 or 4 bytes, little-endian); 0 outside the 256-byte space. */
  public configRead(offset: number, size: number): number {
    return this._config.read(offset, size);
  }

  /** Config-space write: only a 4-byte BAR0 write (sizing, address) has an effect. */
  public configWrite(offset: number, size: number, value: number): void {
    this._config.write(offset, size, value);
  }

  /**
   * A zero-copy view of framebuffer bytes [offset, offset + length) inside guest memory, for the
   * region's pread/pwrite and mmap. Throws RangeError unless the range lies within memsize (the
   * vfio layer checks against the region size first and returns its own errno).
   */
  public fbView(offset: number, length: number): Uint8Array {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
        offset + length > this.memsize) {
      throw new RangeError(`framebuffer bytes ${offset}+${length} outside ${this.memsize} bytes`);
    }
    return this.memory.view(this.fbFirstPage * PAGE_SIZE + offset, length);
  }

  /**
   * Always the framebuffer, whatever the plane type (mdpy ignores it), never disabled. The same
   * object every time; callers must not modify it.
   */
  public decodePlane(_planeType: number): DecodedPlane {
    return this._plane;
  }

  /** Nothing latches: the guest draws straight into the framebuffer. */
  public vblank(): void {}

  /** VFIO_DEVICE_RESET: mdpy repaints its gray gradient; consumers are told with a 'mode' event. */
  public reset(): void {
    this._paint();
    this._onDisplayEvent.fire({ kind: 'mode', planeType: PlaneType.PRIMARY });
  }

  public dispose(): void {
    this._onDisplayEvent.dispose();
  }

  /** Row i of the visible area filled with byte floor(i*255/height), as mdpy_reset does. */
  private _paint(): void {
    if (!this._gradient) return;
    const fb = this.fbView(0, this.memsize);
    for (let y = 0; y < this.height; y++) {
      fb.fill(Math.floor((y * 255) / this.height), y * this.stride, (y + 1) * this.stride);
    }
  }

  private _initConfig(): void {
    const c = this._config;
    c.set16(PCI_CFG.VENDOR_ID, MDPY_PCI_VENDOR_ID);
    c.set16(PCI_CFG.DEVICE_ID, MDPY_PCI_DEVICE_ID);
    c.set16(PCI_CFG.SUBSYSTEM_VENDOR_ID, PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
    c.set16(PCI_CFG.SUBSYSTEM_ID, PCI_SUBDEVICE_ID_QEMU);
    c.set16(PCI_CFG.COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    c.set16(PCI_CFG.STATUS, PCI_STATUS_CAP_LIST);
    c.set16(PCI_CFG.CLASS_DEVICE, PCI_CLASS_DISPLAY_OTHER);
    c.set8(PCI_CFG.CLASS_REVISION, 0x01);
    c.defineBar(PCI_CFG.BASE_ADDRESS_0, this.memsize,
      PCI_BASE_ADDRESS_MEM_TYPE_32 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    c.set8(PCI_CFG.CAPABILITY_LIST, MDPY_VENDORCAP_OFFSET);
    c.set8(MDPY_VENDORCAP_OFFSET + 0, PCI_CAP_ID_VNDR);
    c.set8(MDPY_VENDORCAP_OFFSET + 1, 0x00); // next pointer: end of list
    c.set8(MDPY_VENDORCAP_OFFSET + 2, MDPY_VENDORCAP_SIZE);
    c.set32(MDPY_FORMAT_OFFSET, this.format);
    c.set32(MDPY_WIDTH_OFFSET, this.width);
    c.set32(MDPY_HEIGHT_OFFSET, this.height);
  }
}
