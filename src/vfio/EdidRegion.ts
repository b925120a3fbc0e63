import { Errno } from '../base/Errno.ts';
import { validateEdid } from '../vgpu/Edid.ts';
import {
  VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP, VFIO_PCI_NUM_REGIONS,
  VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_SUBTYPE_GFX_EDID,
  VFIO_REGION_TYPE_GFX,
} from './Abi.ts';
import { EDID_REGS_SIZE, EDID_REGS_WRITABLE, edidRegAt, type EdidReg } from './EdidRegs.ts';
import type { Region } from './Region.ts';

/** Where a new EDID goes when the link comes up (the device model's hotplug). */
export interface EdidSink {
  setEdid(blob: Uint8Array | undefined, linkUp: boolean): void;
}

export interface EdidRegionOptions {
  /** fd offset of the region. */
  offset: number;
  /** Region size (mbochs: one page). */
  size?: number;
  /** Blob location inside the region: GVT 2048, mbochs 0x800. */
  edidOffset: number;
  /** GVT 128, mbochs 0x400. */
  edidMaxSize: number;
  maxXres: number;
  maxYres: number;
  /** Initial blob (the link starts up with it when given). */
  initial?: Uint8Array;
}

/**
 * The VFIO GFX EDID region (spec §1.4): `struct vfio_region_gfx_edid` registers at offset 0 and
 * the blob at `edid_offset`. Hotplug protocol: link down, write edid_size and the blob, link up.
 *
 * Validation follows GVT-g (strict, §6), for every device kind: registers take aligned 4-byte
 * accesses only (else -EINVAL); writing a read-only register is -EPERM; edid_size above the max is
 * -EINVAL; link_state takes UP or DOWN only; bringing the link UP validates the blob (header and
 * checksum) and refuses an invalid one with -EINVAL. Blob access is bounded by the current
 * edid_size. mbochs silently ignores all of these; we answer with an errno instead, so a VMM bug
 * is visible.
 */
export class EdidRegion implements Region {
  public readonly index = VFIO_PCI_NUM_REGIONS;
  public readonly offset: number;
  public readonly size: number;
  public readonly flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
  public readonly capType = { type: VFIO_REGION_TYPE_GFX, subtype: VFIO_REGION_SUBTYPE_GFX_EDID };
  private readonly _blob: Uint8Array;
  private _edidSize = 0;
  private _linkState: number = VFIO_DEVICE_GFX_LINK_STATE_DOWN;
  private readonly _o: EdidRegionOptions;

  public constructor(opts: EdidRegionOptions, private readonly _sink: EdidSink) {
    this._o = opts;
    this.offset = opts.offset;
    this.size = opts.size ?? 4096;
    if (opts.edidOffset < EDID_REGS_SIZE || opts.edidOffset + opts.edidMaxSize > this.size) {
      throw new RangeError('EDID blob does not fit in the region');
    }
    this._blob = new Uint8Array(opts.edidMaxSize);
    if (opts.initial) {
      this._blob.set(opts.initial.subarray(0, opts.edidMaxSize));
      this._edidSize = Math.min(opts.initial.byteLength, opts.edidMaxSize);
      this._linkState = VFIO_DEVICE_GFX_LINK_STATE_UP;
      _sink.setEdid(this._blob.slice(0, this._edidSize), true);
    }
  }

  public get linkUp(): boolean {
    return this._linkState === VFIO_DEVICE_GFX_LINK_STATE_UP;
  }

  public get edid(): Uint8Array {
    return this._blob.slice(0, this._edidSize);
  }

  public read(offset: number, buf: Uint8Array): number {
    if (offset < EDID_REGS_SIZE) {
      const reg = this._reg(offset, buf.byteLength);
      if (!reg) return -Errno.EINVAL;
      new DataView(buf.buffer, buf.byteOffset, 4).setUint32(0, this._value(reg), true);
      return 4;
    }
    const at = this._blobRange(offset, buf.byteLength);
    if (at < 0) return at;
    buf.set(this._blob.subarray(at, at + buf.byteLength));
    return buf.byteLength;
  }

  public write(offset: number, buf: Uint8Array): number {
    if (offset < EDID_REGS_SIZE) {
      const reg = this._reg(offset, buf.byteLength);
      if (!reg) return -Errno.EINVAL;
      if (!EDID_REGS_WRITABLE.has(reg)) return -Errno.EPERM;
      const v = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0, true);
      const r = reg === 'edidSize' ? this._setSize(v) : this._setLink(v);
      return r < 0 ? r : 4;
    }
    const at = this._blobRange(offset, buf.byteLength);
    if (at < 0) return at;
    this._blob.set(buf, at);
    return buf.byteLength;
  }

  private _reg(offset: number, length: number): EdidReg | undefined {
    return length === 4 && offset % 4 === 0 ? edidRegAt(offset) : undefined;
  }

  private _value(reg: EdidReg): number {
    switch (reg) {
      case 'edidOffset': return this._o.edidOffset;
      case 'edidMaxSize': return this._o.edidMaxSize;
      case 'edidSize': return this._edidSize;
      case 'maxXres': return this._o.maxXres;
      case 'maxYres': return this._o.maxYres;
      case 'linkState': return this._linkState;
    }
  }

  private _setSize(v: number): number {
    if (v > this._o.edidMaxSize) return -Errno.EINVAL;
    this._edidSize = v;
    return 0;
  }

  private _setLink(v: number): number {
    if (v === VFIO_DEVICE_GFX_LINK_STATE_UP) {
      const blob = this._blob.slice(0, this._edidSize);
      if (!validateEdid(blob)) return -Errno.EINVAL;
      this._linkState = v;
      this._sink.setEdid(blob, true);
      return 0;
    }
    if (v === VFIO_DEVICE_GFX_LINK_STATE_DOWN) {
      this._linkState = v;
      this._sink.setEdid(undefined, false);
      return 0;
    }
    return -Errno.EINVAL;
  }

  /** Offset into the blob, or -EINVAL outside [edid_offset, edid_offset + edid_size). */
  private _blobRange(offset: number, length: number): number {
    const at = offset - this._o.edidOffset;
    if (at < 0 || length <= 0 || at + length > this._edidSize) return -Errno.EINVAL;
    return at;
  }
}
