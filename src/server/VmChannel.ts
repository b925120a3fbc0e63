import { Disposable, toDisposable, type IDisposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import type { CursorShape, DisplayStatus } from '../display/DisplayConsole.ts';
import type { PlaneReply } from '../display/VfioDisplay.ts';
import type { CacheEntryInfo, DisplayStats } from '../display/VfioDisplay.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import type {
  ChannelEventBody, ChannelStats, DirectScanout, InspectorEvent, VmStats, Wire,
} from '../protocol/InspectorData.ts';
import { StatusCode } from '../protocol/RemoteProtocol.ts';
import { ScanoutModel } from '../render/ScanoutModel.ts';
import { BufferShadow } from './BufferShadow.ts';
import { CHUNK_BLOCKS, ChunkCache, MAX_CHUNK_BYTES } from './ChunkCache.ts';
import type { LabVm } from './VmRegistry.ts';

/**
 * CURSOR_DEFINE with this id: the cursor plane is gone. No remote buffer has it (a device's
 * dmabuf_id or region index 0 is given another remote id).
 */
export const NO_BUFFER = 0;
/** Remote ids handed out when a buffer's dmabuf_id is still in use (region index reuse, …). */
const ALT_ID_BASE = 0x80000000;
export { CHUNK_BLOCKS, MAX_CHUNK_BYTES };

/** An inspector event as the channel builds it (the EVENT payload). */
export type ChannelEvent = Extract<InspectorEvent, { readonly vm: string }>;

/** The cursor plane clients should show: a new object on every define (shape, hotspot, removal). */
export interface ChannelCursor {
  /** Undefined: no cursor plane. */
  readonly shadow: BufferShadow | undefined;
  readonly hotX: number;
  readonly hotY: number;
}

/** The cursor position: a new object on every move. */
export interface ChannelPointer {
  readonly x: number;
  readonly y: number;
}

/** What the viewer's status line says: a new object whenever code or text changes. */
export interface ChannelStatus {
  readonly code: StatusCode;
  readonly text: string;
}

/** The VM part of STATS as this server builds it (bigints as hex strings). */
export type LabVmStats = VmStats<Wire<DisplayStats>, Wire<CacheEntryInfo>, Wire<PlaneReply>>;

export interface VmChannelOptions {
  /** Encoded BUFFER_DATA messages kept for reuse by other clients of this VM. Default 8 MiB. */
  readonly chunkCacheBytes?: number;
  readonly now?: () => number;
  /** The host whose planes the direct-scanout verdict is about. Default: the i915-like preset. */
  readonly scanoutModel?: ScanoutModel;
  /**
   * Remote ids in use by every channel of one server: a channel never hands out one another
   * channel uses, so a client can keep one VM's buffers while it watches another (parking).
   */
  readonly sharedIds?: Set<number>;
  /**
   * Epoch ms of the display clock's 0 (the console's `vblankAt` is on that clock). Default
   * performance.timeOrigin: the lab's display clients run on RealClock (performance.now()).
   */
  readonly displayClockOrigin?: number;
}

const NO_CURSOR: ChannelCursor = { shadow: undefined, hotX: 0, hotY: 0 };

/**
 * The server side of one VM's display, shared by every client attached to it: it follows the
 * display console, keeps a BufferShadow per live buffer (content versions by hashing), and the
 * state clients converge to — shown primary, cursor shape and position, status. Console events
 * are batched and scanned once per microtask, then `onChange` fires.
 *
 * The channel never calls a client: clients read its state (`primary`, `cursor`, `pointer`,
 * `status` — immutable snapshots, so "did it change" is an identity check), follow its events,
 * and tell it which remote ids they still hold (`claimId`) so an id is never given to two
 * buffers on one client. Any kind of client (the WebSocket mirror, a VNC server) fits.
 *
 * It exists only while a client is attached (the server disposes it after the last one leaves),
 * so a VM nobody watches costs no hashing.
 */
export class VmChannel extends Disposable {
  public readonly vm: LabVm;

  private readonly _onChange = this._register(new Emitter<void>());
  /** The state moved on (after a scan): send what the client lacks. */
  public readonly onChange = this._onChange.event;
  private readonly _onRelease = this._register(new Emitter<BufferShadow>());
  /** The display released this buffer: forget its bytes, drop it on the client. */
  public readonly onRelease = this._onRelease.event;
  private readonly _onInspect = this._register(new Emitter<ChannelEvent>());
  /** Inspector events; none is built while nobody listens. */
  public readonly onInspect = this._onInspect.event;

  private _primary: BufferShadow | undefined;
  private _cursor: ChannelCursor = NO_CURSOR;
  private _pointer: ChannelPointer = { x: 0, y: 0 };
  private _status: ChannelStatus = { code: StatusCode.NO_PLANE_YET, text: '' };
  private _flipSeq = 0;
  private _flipVblankMs = 0;
  /** Bytes of guest memory hashed for buffers since released (live ones count their own). */
  private _bytesHashedReleased = 0;

  private readonly _shadows = new Map<DisplayBuffer, BufferShadow>();
  private readonly _byRemote = new Map<number, BufferShadow>();
  private readonly _sharedIds: Set<number> | undefined;
  /** Remote ids clients still hold (or have yet to release), with how many hold each. */
  private readonly _claims = new Map<number, number>();
  private _clients = 0;
  private readonly _chunks: ChunkCache;
  private _nextAlt = ALT_ID_BASE;
  private _flushQueued = false;
  private _everShown = false;
  private readonly _now: () => number;
  private readonly _origin: number;
  private readonly _model: ScanoutModel;
  private _verdict: { primary: BufferShadow; cursor: ChannelCursor; value: DirectScanout } | undefined;

  public constructor(vm: LabVm, options: VmChannelOptions = {}) {
    super();
    this.vm = vm;
    this._chunks = new ChunkCache(options.chunkCacheBytes ?? 8 * 1024 * 1024);
    this._now = options.now ?? Date.now;
    this._origin = options.displayClockOrigin ?? performance.timeOrigin;
    this._model = options.scanoutModel ?? ScanoutModel.preset('i915-like');
    this._sharedIds = options.sharedIds;
    const c = vm.display.console;
    this._register(c.onScanout((b) => this._scanout(b)));
    this._register(c.onResize((s) => this._event(() => ({ kind: 'resize', width: s.width, height: s.height }))));
    this._register(c.onCursorDefine((s) => this._cursorDefine(s)));
    this._register(c.onCursorMove((p) => {
      this._pointer = { x: p.x, y: p.y };
      this._schedule();
    }));
    this._register(c.onUpdate((rects) => this._update(rects)));
    this._register(c.onStatus((s) => this._statusChanged(s)));
    this._register(c.onRelease((b) => this._release(b)));
    // Adopt what the console shows now (a late attach).
    if (c.scanout !== undefined) {
      this._primary = this._shadowFor(c.scanout);
      this._everShown = true;
    }
    if (c.cursor.buffer !== null) this._cursorDefine(c.cursor);
    this._pointer = { x: c.cursorPosition.x, y: c.cursorPosition.y };
    this._setStatus(c.status);
  }

  // ---- state clients converge to ---------------------------------------------------------------

  /** Flips seen (scanouts), for the viewer's flip → present measurement. */
  public get flipSeq(): number {
    return this._flipSeq;
  }

  /**
   * Host time (epoch ms) of the vblank IRQ that latched the last flip, as the display client
   * recorded it (DisplayConsole.vblankAt); 0 before the first or when the display does not know.
   */
  public get flipVblankMs(): number {
    return this._flipVblankMs;
  }

  /** The primary buffer the clients should show (undefined before the first scanout). */
  public get primary(): BufferShadow | undefined {
    return this._primary;
  }

  public get cursor(): ChannelCursor {
    return this._cursor;
  }

  public get pointer(): ChannelPointer {
    return this._pointer;
  }

  public get status(): ChannelStatus {
    return this._status;
  }

  /** Live shadow by remote id (inspector and tests). */
  public shadow(remoteId: number): BufferShadow | undefined {
    return this._byRemote.get(remoteId);
  }

  /**
   * Could the host scan the shown primary out directly on one of its planes (with the cursor
   * shown now), and if not why not. Evaluated once per (primary, cursor) pair, so a flip between
   * known buffers costs a lookup.
   */
  public get directScanout(): DirectScanout | undefined {
    const p = this._primary;
    if (p === undefined) return undefined;
    const v = this._verdict;
    if (v !== undefined && v.primary === p && v.cursor === this._cursor) return v.value;
    const value = this._model.verdict(p.buffer, this._cursor.shadow?.buffer);
    this._verdict = { primary: p, cursor: this._cursor, value };
    return value;
  }

  // ---- clients ------------------------------------------------------------------------------

  /** A client starts following this channel; dispose the handle when it stops. */
  public join(): IDisposable {
    this._clients++;
    return toDisposable(() => { this._clients--; });
  }

  public get clientCount(): number {
    return this._clients;
  }

  /** A client holds (or has yet to release) remote id `id`: it is not handed out again. */
  public claimId(id: number): void {
    this._claims.set(id, (this._claims.get(id) ?? 0) + 1);
  }

  /** The client no longer knows `id` (its BUFFER_RELEASE went out, or it left). */
  public unclaimId(id: number): void {
    const n = this._claims.get(id);
    if (n === undefined) return;
    if (n <= 1) this._claims.delete(id);
    else this._claims.set(id, n - 1);
  }

  // ---- costs --------------------------------------------------------------------------------

  public get shadowCount(): number {
    return this._shadows.size;
  }

  public get bytesHashed(): number {
    let n = this._bytesHashedReleased;
    for (const s of this._shadows.values()) n += s.bytesHashed;
    return n;
  }

  public get chunkCache(): ChannelStats['chunkCache'] {
    return this._chunks.stats;
  }

  public get stats(): ChannelStats {
    return { clients: this._clients, buffers: this.shadowCount, bytesHashed: this.bytesHashed, chunkCache: this.chunkCache };
  }

  /** The VM part of STATS: display counters, dma-buf cache, planes, channel costs, direct scanout. */
  public vmStats(): LabVmStats {
    const d = this.vm.display;
    return {
      vm: this.vm.name,
      display: d.stats === undefined ? undefined : toWire(d.stats),
      cache: d.cacheEntries === undefined ? undefined : toWire(d.cacheEntries()),
      planes: d.planeInfo === undefined ? undefined : {
        primary: toWire(d.planeInfo(PlaneType.PRIMARY)), cursor: toWire(d.planeInfo(PlaneType.CURSOR)),
      },
      channel: this.stats,
      directScanout: this.directScanout,
    };
  }

  // ---- the remote protocol's shared messages -------------------------------------------------

  /** A BUFFER_DATA message for blocks [first, last) of `shadow`, shared by this VM's clients. */
  public chunk(shadow: BufferShadow, first: number, last: number): Uint8Array | undefined {
    // With one client nobody else could reuse it: keeping it would only hold old frames for the GC.
    return this._chunks.get(shadow, first, last, this._clients > 1);
  }

  /** Scan now instead of at the end of the microtask (tests, and before a client's first pump). */
  public flush(): void {
    this._flushQueued = false;
    if (this.isDisposed) return;
    // The cursor plane has no damage events: its 16 KiB are rehashed on every flush.
    this._cursor.shadow?.markAll();
    for (const s of this._shadows.values()) {
      if (s.pending) s.scan();
    }
    this._onChange.fire();
  }

  public override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    for (const s of this._shadows.values()) s.retire();
    this._shadows.clear();
    for (const id of this._byRemote.keys()) this._sharedIds?.delete(id);
    this._byRemote.clear();
    this._claims.clear();
    this._chunks.clear();
    this._primary = undefined;
    this._cursor = NO_CURSOR;
    this._verdict = undefined;
  }

  // ---- console events --------------------------------------------------------------------------

  private _scanout(b: DisplayBuffer): void {
    this._flipSeq = (this._flipSeq + 1) >>> 0;
    const at = this.vm.display.console.vblankAt;
    this._flipVblankMs = at === undefined ? 0 : this._origin + at;
    const known = this._shadows.has(b);
    const s = this._shadowFor(b);
    const written = this.vm.display.console.written;
    // A new shadow has just observed every block. A known one learns what the guest wrote into it
    // since it was last shown from the dirty log when the display knows that, else compares all.
    if (known) {
      if (written === undefined) s.markAll();
      else s.markWritten(written);
    }
    this._primary = s;
    if (!this._everShown) {
      this._everShown = true;
      this._setStatus(this.vm.display.console.status);
    }
    this._event(() => ({
      kind: 'scanout', id: b.id, remoteId: s.remoteId, bufferKind: b.kind, width: b.width, height: b.height,
      stride: b.stride, drmFormat: b.drmFormat, modifier: `0x${b.modifier.toString(16)}`,
      directScanout: this.directScanout!,
    }));
    // The dirty log said exactly what changed, so nothing later in this refresh adds to the flip
    // (a cursor change follows in its own flush): send it now rather than after the refresh.
    // Without it the refresh reports full damage next, and one flush must see both.
    if (written !== undefined) this.flush();
    else this._schedule();
  }

  private _cursorDefine(shape: CursorShape): void {
    if (shape.buffer === null) {
      this._cursor = { shadow: undefined, hotX: 0, hotY: 0 };
    } else {
      const s = this._shadowFor(shape.buffer);
      s.markAll();
      this._cursor = { shadow: s, hotX: shape.hotX, hotY: shape.hotY };
    }
    this._event(() => ({
      kind: 'cursor', id: shape.buffer?.id ?? null, remoteId: this._cursor.shadow?.remoteId ?? null,
      hotX: shape.hotX, hotY: shape.hotY, hotKnown: shape.hotKnown,
    }));
    this._schedule();
  }

  private _update(rects: readonly Rect[]): void {
    const p = this._primary;
    if (p === undefined) return;
    const written = this.vm.display.console.written;
    if (written !== undefined) p.markWritten(written);
    else for (const r of rects) p.markRect(r);
    this._schedule();
  }

  private _statusChanged(s: DisplayStatus): void {
    this._setStatus(s);
    this._event(() => ({ kind: 'status', reason: s.reason, message: s.message, errno: s.errno }));
    this._schedule();
  }

  private _setStatus(s: DisplayStatus): void {
    const [code, text] = statusFor(s, this._everShown);
    if (code === this._status.code && text === this._status.text) return;
    this._status = { code, text };
  }

  private _release(b: DisplayBuffer): void {
    const s = this._shadows.get(b);
    if (s === undefined) return;
    s.retire();
    this._bytesHashedReleased += s.bytesHashed;
    this._shadows.delete(b);
    this._byRemote.delete(s.remoteId);
    this._sharedIds?.delete(s.remoteId);
    if (this._primary === s) this._primary = undefined;
    if (this._cursor.shadow === s) this._cursor = { shadow: undefined, hotX: 0, hotY: 0 };
    if (this._verdict?.primary === s) this._verdict = undefined;
    this._chunks.forget(s);
    this._event(() => ({ kind: 'release', id: b.id, remoteId: s.remoteId }));
    this._onRelease.fire(s);
    this._schedule();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private _shadowFor(b: DisplayBuffer): BufferShadow {
    let s = this._shadows.get(b);
    if (s === undefined) {
      s = new BufferShadow(b, this._allocId(b.id));
      // Observe every block now: a client must never see a block with no version.
      s.scan();
      this._shadows.set(b, s);
      this._byRemote.set(s.remoteId, s);
      this._sharedIds?.add(s.remoteId);
    }
    return s;
  }

  private _busy(id: number): boolean {
    return id === NO_BUFFER || this._byRemote.has(id) || this._claims.has(id) || this._sharedIds?.has(id) === true;
  }

  private _allocId(id: number): number {
    if (!this._busy(id)) return id;
    for (;;) {
      const alt = this._nextAlt;
      this._nextAlt = alt >= 0xffffffff ? ALT_ID_BASE : alt + 1;
      if (!this._busy(alt)) return alt;
    }
  }

  private _event(make: () => ChannelEventBody): void {
    if (!this._onInspect.hasListeners) return;
    this._onInspect.fire({ t: this._now(), vm: this.vm.name, ...make() });
  }

  private _schedule(): void {
    if (this._flushQueued || this.isDisposed) return;
    this._flushQueued = true;
    queueMicrotask(() => {
      if (this._flushQueued) this.flush();
    });
  }
}

/** The viewer's status code and sentence for a console status. */
export function statusFor(s: DisplayStatus, everShown: boolean): [StatusCode, string] {
  switch (s.reason) {
    case 'ok':
    case 'policy-fallback':
      return everShown
        ? [StatusCode.OK, s.reason === 'ok' ? '' : s.message]
        : [StatusCode.NO_PLANE_YET, 'the guest has not enabled a display plane yet'];
    case 'plane-disabled':
      return [StatusCode.PLANE_DISABLED, s.message];
    case 'unsupported-format':
      // The console does not say whether the format or the modifier was the problem; the text does.
      return [StatusCode.UNSUPPORTED_FORMAT, s.message];
    case 'no-display':
    case 'device-error':
      return [StatusCode.DEVICE_ERROR, s.message];
    case 'vm-stopped':
      return [StatusCode.VM_STOPPED, s.message];
  }
}

/** A value as STATS carries it (bigints as hex strings). */
function toWire<T>(v: T): Wire<T> {
  return wire(v) as Wire<T>;
}

function wire(v: unknown): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (Array.isArray(v)) return v.map(wire);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = wire(x);
    return out;
  }
  return v;
}
