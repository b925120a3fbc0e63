import { Errno, errnoName } from '../base/Errno.ts';
import type { PlaneInfo } from '../vfio/PlaneInfo.ts';
import type { CursorShape, StatusReason } from './DisplayConsole.ts';
import type { DisplayBuffer, Rect } from './DisplayBuffer.ts';

/** A buffer to show as the primary plane, with what the display client derives from it once. */
export interface Frame {
  readonly buffer: DisplayBuffer;
  /** The whole buffer as a damage list (made once per buffer, reused by every full update). */
  readonly full: readonly Rect[];
  /** Guest pages behind the buffer in buffer order, when known (dirty-log damage). */
  readonly pages: Uint32Array | undefined;
}

/**
 * Where a source delivers what the display shows. The display client implements it once, counts,
 * and forwards to its DisplayConsole. A pull source calls it from `refresh`; a push source (a VMM
 * that is told Scanout/Update/CursorDefine/MouseSet/Disable, e.g. QEMU's D-Bus display listener)
 * calls it whenever its peer speaks: ScanoutDMABUF → `scanout` (a dma-buf frame), Scanout →
 * `scanout` (a counted copy, like the region path), Update → `update`, CursorDefine →
 * `defineCursor`, MouseSet → `moveCursor`, Disable → `status('plane-disabled', ...)`.
 */
export interface FrameSink {
  /** A new primary buffer is on screen (flip, resize, plane back on). */
  scanout(frame: Frame): void;
  /** Pixels of the shown primary changed inside these rectangles. */
  update(rects: readonly Rect[]): void;
  defineCursor(shape: CursorShape): void;
  /** Cursor plane top-left, signed. */
  moveCursor(x: number, y: number): void;
  /** Anything but 'ok' keeps the last frame on screen. */
  status(reason: StatusReason, message: string, errno?: number): void;
  /** A buffer the source handed out is gone (its fd is closed): drop what was made from it. */
  release(buffer: DisplayBuffer): void;
  /** The device asked to be asked again later (-ENOMEM, -EAGAIN, GET's -EMFILE). */
  retry(): void;
}

/**
 * What one `refresh` of a pull source found for the primary plane:
 * - `scanout`: a new buffer went to the sink (the caller sends a full update);
 * - `unchanged`: the same buffer is shown, its content may have changed (full update or dirty scan);
 * - `off`: nothing is shown now (plane disabled, unsupported, failed: last frame and a status kept);
 * - `retry`: the device said "later"; the sink's `retry` was called.
 */
export type RefreshResult = 'scanout' | 'unchanged' | 'off' | 'retry';

/** A QUERY answer as a client recorded it: the struct, and the ioctl's result (0 or -errno). */
export interface PlaneReply extends PlaneInfo {
  readonly result: number;
}

/**
 * One look at one plane (`VfioDisplay.capture`): a mapped buffer, a plane that is off, a transient
 * "later" (-ENOMEM/-EAGAIN, real mbochs' first answer after a mode change) or a failure. The
 * buffer stays valid while the display holds it (until evicted, or the display is disposed).
 */
export type Capture =
  | { readonly kind: 'frame'; readonly plane: PlaneInfo; readonly buffer: DisplayBuffer }
  | { readonly kind: 'off'; readonly plane: PlaneInfo }
  | { readonly kind: 'retry'; readonly errno: number; readonly message: string }
  | { readonly kind: 'error'; readonly errno: number; readonly message: string };

/** A cached buffer as the inspector and `probe` list it: the buffer's own fields plus its use. */
export interface CacheEntryInfo
  extends Pick<DisplayBuffer, 'id' | 'fd' | 'planeType' | 'drmFormat' | 'modifier' | 'width' | 'height' | 'stride' | 'size'> {
  readonly hits: number;
  readonly shown: 'primary' | 'cursor' | 'none';
}

/**
 * A display source, chosen once when the client probes the device (QEMU picks its ops table the
 * same way). Pull sources (`delivery: 'pull'`: VFIO dma-buf, VFIO region) look at the device when
 * the client's scheduler calls `refresh`; push sources deliver through the sink on their own and
 * answer `refresh` with what they last delivered. Every source can `capture` one plane on demand.
 */
export interface FrameSource {
  readonly mode: 'dmabuf' | 'region';
  readonly delivery: 'pull' | 'push';
  /** Whether the source emits content events itself (no polling needed for the event policies). */
  readonly events: boolean;
  refresh(): RefreshResult;
  /** One plane now, without touching what the sink shows. */
  capture(planeType: number): Capture;
  /** The last answer about a plane (inspection: probe, the lab's inspector). */
  planeReply(planeType: number): PlaneReply;
  /** Buffers the source holds, most recently used first. */
  cacheEntries(): CacheEntryInfo[];
  /** Release every buffer it holds (through the sink). */
  dispose(): void;
}

/** -ENOMEM/-EAGAIN mean "ask again later", not a failure. */
export function isTransient(errno: number): boolean {
  return errno === -Errno.ENOMEM || errno === -Errno.EAGAIN;
}

/**
 * How every capture starts, whatever the source: the QUERY's answer as a Capture when it ends
 * the capture (a transient errno is 'retry', another 'error', a disabled plane 'off'), or
 * undefined when there is a plane to read.
 */
export function captureQueryOutcome(rc: number, q: { readonly disabled: boolean; read(): PlaneInfo }): Capture | undefined {
  if (rc < 0) return { kind: isTransient(rc) ? 'retry' : 'error', errno: rc, message: `QUERY_GFX_PLANE → ${errnoName(rc)}` };
  if (q.disabled) return { kind: 'off', plane: q.read() };
  return undefined;
}
