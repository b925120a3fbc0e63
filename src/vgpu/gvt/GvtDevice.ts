import { Disposable } from '../../base/Disposable.ts';
import { Emitter } from '../../base/Emitter.ts';
import { Errno } from '../../base/Errno.ts';
import type { Ggtt, GgttRange } from '../../gpu/Ggtt.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DisplayEvent, DisplayEventKind, MediatedDevice, PlaneDecode } from '../Plane.ts';
import { DisplayPipe, PIPE_BLOCK_BASE } from './DisplayPipe.ts';
import {
  BAR0_SIZE,
  GTT_BASE,
  GTT_ENTRY_SIZE,
  GTT_SIZE,
  PIPESRC,
  PIPE_COUNT,
  PIPE_STRIDE,
  PVINFO_BASE,
  PVINFO_SIZE,
} from './GvtRegisters.ts';
import { PvInfo } from './PvInfo.ts';

export interface GvtDeviceOptions {
  /** The VM's memory; must be the size given to `ggtt.assign(vmId, …)` as guestPageCount. */
  readonly memory: GuestMemory;
  /** The host GGTT, on which `vmId` already has its slices. */
  readonly ggtt: Ggtt;
  readonly vmId: number;
  /**
   * Export the sprite plane as DRM_PLANE_TYPE_OVERLAY (default true). False is GVT's behaviour:
   * querying an overlay gives -EINVAL.
   */
  readonly exportOverlay?: boolean;
}

/** Guest accesses the device refused (diagnostics; none of them has any other effect). */
export interface GvtCounters {
  /** Writes to unknown or read-only registers, or outside BAR0. GTT writes: see Ggtt.counters. */
  readonly ignoredWrites: number;
  /** Reads of offsets where no register is (they return 0). */
  readonly unknownReads: number;
  /** Accesses not aligned to their size (or with a non-integer offset): ignored, reads give 0. */
  readonly misaligned: number;
}

const PIPE_BLOCK_END = PIPE_BLOCK_BASE + PIPE_COUNT * PIPE_STRIDE;

/**
 * An Intel gen9-style mediated display engine (GVT-g's view of it): three pipes, each with a
 * primary plane, a sprite/overlay plane and a cursor; the PV-info page; and the GTT window through
 * which the guest writes its GGTT entries (validated by the host Ggtt).
 *
 * Semantics, all register offsets in GvtRegisters.ts:
 *  - BAR0 accesses are 32-bit (`mmioRead32/mmioWrite32`) or 64-bit (`mmioRead64/mmioWrite64`,
 *    meant for GTT entries; elsewhere it is two 32-bit accesses, low dword first). Unknown offsets
 *    read 0, writes there are ignored; misaligned accesses are ignored; nothing throws.
 *  - Flips: PLANE_SURF, SPRITE_SURF and CURBASE writes are ARMED and latch at the next `vblank()`
 *    (on every pipe, enabled or not). All other registers act at once. decodePlane reads latched
 *    state only.
 *  - Events (onDisplayEvent), fired synchronously: 'flip' per latched surface at vblank (also a
 *    flip to the same address); 'plane' when a plane's CTL, STRIDE (or sprite SIZE) value changes
 *    (enable/disable, format, tiling…), CURCNTR included; 'mode' when PIPECONF or PIPESRC changes;
 *    'cursor' when CURPOS or the PV-info hotspot changes. Rewriting a value unchanged fires
 *    nothing. Events are not filtered by pipe (the consumer just re-queries), but overlay events
 *    are dropped when overlays are not exported.
 *  - Vblank counter: PIPE_FRMCOUNT (0x70040 + pipe * 0x1000) counts vblanks while that pipe is
 *    enabled; PIPE_FLIPCOUNT (0x70044 + …) counts latched primary flips; PLANE_SURFLIVE etc. read
 *    the latched surfaces. `vblankCount` counts every vblank() call.
 */
export class GvtDevice extends Disposable implements MediatedDevice {
  public readonly kind = 'gvt' as const;
  public readonly memory: GuestMemory;
  public readonly ggtt: Ggtt;
  public readonly vmId: number;
  public readonly exportOverlay: boolean;
  public readonly aperture: GgttRange;
  public readonly hidden: GgttRange;
  /** Pipes A–C (read-only use: inspection). */
  public readonly pipes: readonly DisplayPipe[];

  private readonly _onDisplayEvent = this._register(new Emitter<DisplayEvent>());
  public readonly onDisplayEvent = this._onDisplayEvent.event;

  private readonly _pvInfo: PvInfo;
  private _vblankCount = 0;
  private _ignoredWrites = 0;
  private _unknownReads = 0;
  private _misaligned = 0;

  public constructor(options: GvtDeviceOptions) {
    super();
    const { memory, ggtt, vmId } = options;
    const slices = ggtt.assignment(vmId);
    if (!slices) throw new RangeError(`vm ${vmId} has no GGTT slices: call ggtt.assign first`);
    if (slices.guestPageCount !== memory.pageCount) {
      throw new RangeError(
        `vm ${vmId}: GGTT was assigned for ${slices.guestPageCount} guest pages, ` +
          `memory has ${memory.pageCount}`,
      );
    }
    this.memory = memory;
    this.ggtt = ggtt;
    this.vmId = vmId;
    this.exportOverlay = options.exportOverlay ?? true;
    this.aperture = slices.aperture;
    this.hidden = slices.hidden;
    this._pvInfo = new PvInfo(vmId, slices);
    const emit = (kind: DisplayEventKind, planeType: number): void => this._emit(kind, planeType);
    this.pipes = Array.from({ length: PIPE_COUNT }, (_, i) => new DisplayPipe(i, emit));
  }

  public get vblankCount(): number {
    return this._vblankCount;
  }

  public get counters(): GvtCounters {
    return {
      ignoredWrites: this._ignoredWrites,
      unknownReads: this._unknownReads,
      misaligned: this._misaligned,
    };
  }

  /** Index of the pipe that is exported (the first enabled one, spec §3.1), or -1. */
  public get activePipe(): number {
    return this.pipes.findIndex((p) => p.enabled);
  }

  // ---- MMIO -------------------------------------------------------------------------------------

  public mmioRead32(offset: number): number {
    if (!this._aligned(offset, 4, false)) return 0;
    if (offset >= GTT_BASE) {
      const index = (offset - GTT_BASE) / GTT_ENTRY_SIZE;
      return this.ggtt.readPte32(this.vmId, Math.floor(index), (offset & 4) === 0 ? 0 : 1);
    }
    const v = this._readReg(offset);
    if (v === undefined) {
      this._unknownReads++;
      return 0;
    }
    return v >>> 0;
  }

  public mmioWrite32(offset: number, value: number): void {
    if (!this._aligned(offset, 4, true)) return;
    if (typeof value !== 'number') {
      this._ignoredWrites++;
      return;
    }
    const v = value >>> 0;
    if (offset >= GTT_BASE) {
      const index = Math.floor((offset - GTT_BASE) / GTT_ENTRY_SIZE);
      // Refused GTT writes are counted by the Ggtt (per VM), not here.
      this.ggtt.writePte32(this.vmId, index, (offset & 4) === 0 ? 0 : 1, v);
      return;
    }
    if (!this._writeReg(offset, v)) this._ignoredWrites++;
  }

  /** 64-bit read: a whole PTE in the GTT window; elsewhere two 32-bit reads (low dword first). */
  public mmioRead64(offset: number): bigint {
    if (!this._aligned(offset, 8, false)) return 0n;
    if (offset >= GTT_BASE) return this.ggtt.readPte(this.vmId, (offset - GTT_BASE) / GTT_ENTRY_SIZE);
    const lo = this.mmioRead32(offset);
    const hi = this.mmioRead32(offset + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** 64-bit write: a whole PTE in the GTT window; elsewhere two 32-bit writes (low dword first). */
  public mmioWrite64(offset: number, value: bigint): void {
    if (!this._aligned(offset, 8, true)) return;
    if (typeof value !== 'bigint') {
      this._ignoredWrites++;
      return;
    }
    const v = BigInt.asUintN(64, value);
    if (offset >= GTT_BASE) {
      this.ggtt.writePte(this.vmId, (offset - GTT_BASE) / GTT_ENTRY_SIZE, v);
      return;
    }
    this.mmioWrite32(offset, Number(v & 0xffffffffn));
    this.mmioWrite32(offset + 4, Number(v >> 32n));
  }

  // ---- MediatedDevice ---------------------------------------------------------------------------

  public vblank(): void {
    this._vblankCount++;
    for (const p of this.pipes) p.vblank();
  }

  /**
   * Decode the plane of a DRM plane type from latched registers (spec §3): PRIMARY and CURSOR as
   * GVT does; OVERLAY (the sprite, sized by its PLANE_SIZE) only if `exportOverlay`. Only the first
   * enabled pipe is ever exported; none → null. Never throws, never reads guest memory.
   */
  public decodePlane(planeType: number): PlaneDecode {
    if (planeType !== PlaneType.PRIMARY && planeType !== PlaneType.CURSOR &&
        !(planeType === PlaneType.OVERLAY && this.exportOverlay)) {
      return -Errno.EINVAL;
    }
    const pipe = this.pipes.find((p) => p.enabled);
    if (!pipe) return null;
    switch (planeType) {
      case PlaneType.PRIMARY:
        return pipe.primary.decode(pipe.width, pipe.height, this.ggtt, this.vmId);
      case PlaneType.OVERLAY:
        return pipe.sprite.decode(pipe.sprite.sizeWidth, pipe.sprite.sizeHeight, this.ggtt, this.vmId);
      default:
        return pipe.cursor.decode(this.ggtt, this.vmId, this._pvInfo.xHot, this._pvInfo.yHot);
    }
  }

  /**
   * VFIO_DEVICE_RESET: every register back to power-on (pipes off, planes off, hotspot unknown),
   * pending flips dropped, this VM's GGTT entries invalidated. Fires one 'mode' event when a pipe
   * was enabled (the exported display disappears). Diagnostic counters are kept.
   */
  public reset(): void {
    const wasShowing = this.activePipe >= 0;
    for (const p of this.pipes) p.reset();
    this._pvInfo.reset();
    this.ggtt.invalidateVm(this.vmId);
    if (wasShowing) this._emit('mode', PlaneType.PRIMARY);
  }

  // ---- internals --------------------------------------------------------------------------------

  /** Whether an access is inside BAR0 and aligned; counts the refusal otherwise. */
  private _aligned(offset: number, size: number, write: boolean): boolean {
    if (!Number.isInteger(offset) || offset < 0 || offset % size !== 0) {
      this._misaligned++;
      return false;
    }
    if (offset + size > BAR0_SIZE) {
      if (write) this._ignoredWrites++;
      else this._unknownReads++;
      return false;
    }
    return true;
  }

  private _readReg(offset: number): number | undefined {
    if (offset >= PIPE_BLOCK_BASE && offset < PIPE_BLOCK_END) {
      const i = (offset - PIPE_BLOCK_BASE) >>> 12;
      return this.pipes[i]!.read(offset & 0xfff);
    }
    if (offset >= PVINFO_BASE && offset < PVINFO_BASE + PVINFO_SIZE) {
      return this._pvInfo.read(offset - PVINFO_BASE);
    }
    const src = this._pipesrcIndex(offset);
    return src >= 0 ? this.pipes[src]!.src : undefined;
  }

  private _writeReg(offset: number, value: number): boolean {
    if (offset >= PIPE_BLOCK_BASE && offset < PIPE_BLOCK_END) {
      const i = (offset - PIPE_BLOCK_BASE) >>> 12;
      return this.pipes[i]!.write(offset & 0xfff, value);
    }
    if (offset >= PVINFO_BASE && offset < PVINFO_BASE + PVINFO_SIZE) {
      const r = this._pvInfo.write(offset - PVINFO_BASE, value);
      if (r === 'changed') this._emit('cursor', PlaneType.CURSOR);
      return r !== 'ignored';
    }
    const src = this._pipesrcIndex(offset);
    if (src < 0) return false;
    this.pipes[src]!.writeSrc(value);
    return true;
  }

  private _pipesrcIndex(offset: number): number {
    for (let i = 0; i < PIPE_COUNT; i++) if (offset === PIPESRC(i)) return i;
    return -1;
  }

  private _emit(kind: DisplayEventKind, planeType: number): void {
    if (planeType === PlaneType.OVERLAY && !this.exportOverlay) return;
    this._onDisplayEvent.fire({ kind, planeType });
  }
}

/** BAR0 layout summary, for VMM code that maps the device. */
export const GVT_BAR0 = { size: BAR0_SIZE, gttBase: GTT_BASE, gttSize: GTT_SIZE } as const;
