import { Errno, errnoName } from '../base/Errno.ts';
import { formatName } from '../kms/Fourcc.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_GFX_PLANE_TYPE_REGION } from '../vfio/Abi.ts';
import { PlaneInfoView } from '../vfio/PlaneInfo.ts';
import type { Mapping, Sys } from '../vfio/Sys.ts';
import { fullRect, type DisplayBuffer } from './DisplayBuffer.ts';
import type { DisplayCounters } from './DisplayStats.ts';
import { STATUS_SHOWING } from './DmabufSource.ts';
import {
  captureQueryOutcome, isTransient, type CacheEntryInfo, type Capture, type Frame, type FrameSink, type FrameSource, type PlaneReply,
  type RefreshResult,
} from './FrameSource.ts';
import { RegionReader } from './RegionReader.ts';

/**
 * The region path (QEMU's vfio_display_region_*): QUERY_GFX_PLANE with the REGION flag names a
 * device region holding the frame; every refresh copies it into the client's staging buffer. This
 * is the copy the dma-buf path avoids, and `bytesCopied` counts it. No cursor plane.
 */
export class RegionSource implements FrameSource {
  public readonly mode = 'region';
  public readonly delivery = 'pull';
  /** A region has no content events: it can only be polled. */
  public readonly events = false;

  private readonly _q = new PlaneInfoView();
  private readonly _qOnce = new PlaneInfoView();
  private _r = 0;
  private _reader: RegionReader | undefined;
  private _frame: Frame | undefined;
  private _staging = new Uint8Array(0);

  public constructor(
    private readonly _sys: Sys,
    private readonly _fd: number,
    private readonly _sink: FrameSink,
    private readonly _n: DisplayCounters,
    private readonly _supports: (drmFormat: number, modifier: bigint) => boolean,
  ) {}

  public refresh(): RefreshResult {
    const q = this._q;
    const r = this._r = this._query(q, PlaneType.PRIMARY);
    if (isTransient(r)) {
      this._sink.retry();
      return 'retry';
    }
    if (r < 0) return this._fail(`QUERY_GFX_PLANE(region) failed: ${errnoName(r)}`, r);
    if (q.disabled) {
      this._sink.status('plane-disabled', 'the guest disabled the display (last frame kept)');
      return 'off';
    }
    const reader = this._open(q.regionIndex);
    if (reader instanceof RegionOpenFailure) return this._fail(reader.message, reader.errno);
    const b = this._frame?.buffer;
    const changed = b === undefined || b.id !== q.regionIndex || b.width !== q.width || b.height !== q.height ||
      b.stride !== q.stride || b.drmFormat !== q.drmFormat;
    let result: RefreshResult = 'unchanged';
    if (changed) {
      const modifier = q.drmFormatMod;
      if (!this._supports(q.drmFormat, modifier) || modifier !== 0n) {
        this._sink.status('unsupported-format', `cannot show region format ${formatName(q.drmFormat)} (last frame kept)`);
        return 'off';
      }
      const bad = this._misfit(q, reader);
      if (bad !== '') return this._fail(bad, -Errno.EINVAL);
      // Fill the new staging buffer before showing it, so the renderer's first look sees a frame.
      const staging = new Uint8Array(q.stride * q.height);
      const n = this._copy(reader, staging);
      if (n < 0) return this._fail(`region read failed: ${errnoName(n)}`, n);
      const old = this._frame;
      this._staging = staging;
      this._frame = { buffer: stagingBuffer(q, staging), full: [fullRect(q.width, q.height)], pages: undefined };
      this._sink.scanout(this._frame);
      if (old !== undefined) this._sink.release(old.buffer);
      result = 'scanout';
    } else {
      const n = this._copy(reader, this._staging);
      if (n < 0) return this._fail(`region read failed: ${errnoName(n)}`, n);
    }
    this._sink.status('ok', STATUS_SHOWING);
    return result;
  }

  /** A fresh copy of the region's frame (it never aliases what the sink shows). */
  public capture(planeType: number): Capture {
    const q = this._qOnce;
    const ended = captureQueryOutcome(this._query(q, planeType), q);
    if (ended !== undefined) return ended;
    const reader = this._open(q.regionIndex);
    if (reader instanceof RegionOpenFailure) return { kind: 'error', errno: reader.errno, message: reader.message };
    const bad = this._misfit(q, reader);
    if (bad !== '') return { kind: 'error', errno: -Errno.EINVAL, message: bad };
    const staging = new Uint8Array(q.stride * q.height);
    const n = this._copy(reader, staging);
    if (n < 0) return { kind: 'error', errno: n, message: `region read failed: ${errnoName(n)}` };
    return { kind: 'frame', plane: q.read(), buffer: stagingBuffer(q, staging) };
  }

  public planeReply(planeType: number): PlaneReply {
    const info = planeType === PlaneType.PRIMARY ? this._q.read() : new PlaneInfoView().read();
    return { ...info, result: planeType === PlaneType.PRIMARY && this._r < 0 ? this._r : 0 };
  }

  public cacheEntries(): CacheEntryInfo[] {
    return [];
  }

  public dispose(): void {
    this._reader?.close();
    this._reader = undefined;
    if (this._frame) this._sink.release(this._frame.buffer);
    this._frame = undefined;
  }

  private _query(q: PlaneInfoView, planeType: number): number {
    this._n.queries++;
    const r = this._sys.ioctl(this._fd, VFIO_DEVICE_QUERY_GFX_PLANE, q.request(VFIO_GFX_PLANE_TYPE_REGION, planeType));
    if (r < 0) q.clearOutputs();
    return r;
  }

  /** The reader of region `index` (reopened when the device names another region). */
  private _open(index: number): RegionReader | RegionOpenFailure {
    if (this._reader?.index === index) return this._reader;
    this._reader?.close();
    this._reader = undefined;
    const reader = RegionReader.open(this._sys, this._fd, index);
    if (typeof reader === 'number') return new RegionOpenFailure(reader, `region ${index}: ${errnoName(reader)}`);
    this._reader = reader;
    return reader;
  }

  /** '' when the plane fits the region, else why not. */
  private _misfit(q: PlaneInfoView, reader: RegionReader): string {
    const bytes = q.stride * q.height;
    if (bytes > 0 && bytes <= reader.size && q.stride >= q.width) return '';
    return `region ${q.regionIndex}: ${q.width}x${q.height} stride ${q.stride} does not fit ${reader.size} bytes`;
  }

  /** The copy the dma-buf path avoids, counted. */
  private _copy(reader: RegionReader, staging: Uint8Array): number {
    const n = reader.copy(staging);
    if (n > 0) this._n.bytesCopied += n;
    return n;
  }

  private _fail(message: string, errno: number): RefreshResult {
    this._n.errors++;
    this._sink.status('device-error', message, errno);
    return 'off';
  }
}

class RegionOpenFailure {
  public constructor(public readonly errno: number, public readonly message: string) {}
}

function stagingBuffer(q: PlaneInfoView, staging: Uint8Array): DisplayBuffer {
  const mapping: Mapping = { length: staging.length, chunks: [staging], chunkOffsets: [0], unmap: () => {} };
  return {
    id: q.regionIndex, fd: -1, kind: 'region', planeType: PlaneType.PRIMARY, mapping, drmFormat: q.drmFormat,
    modifier: q.drmFormatMod, width: q.width, height: q.height, stride: q.stride, size: staging.length,
  };
}
