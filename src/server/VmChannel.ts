import { Disposable } from '../base/Disposable.ts';
import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import type { CursorShape, DisplayStatus } from '../display/DisplayConsole.ts';
import { BUFFER_DATA_HEADER, Msg, StatusCode } from '../protocol/RemoteProtocol.ts';
import { BLOCK_SIZE, BufferShadow } from './BufferShadow.ts';
import type { LabVm } from './VmRegistry.ts';

/**
 * CURSOR_DEFINE with this id: the cursor plane is gone. No remote buffer has it (a device's
 * dmabuf_id or region index 0 is given another remote id).
 */
export const NO_BUFFER = 0;
/** Remote ids handed out when a buffer's dmabuf_id is still in use (region index reuse, …). */
const ALT_ID_BASE = 0x80000000;
/** At most this many blocks (bytes / 4 KiB) per BUFFER_DATA message: 256 KiB of pixels. */
export const CHUNK_BLOCKS = 64;
export const MAX_CHUNK_BYTES = CHUNK_BLOCKS * BLOCK_SIZE;
/** The payload starts 12 bytes into the allocation so it is word-aligned for hashing. */
const PAD = 3;

/** What a channel needs from each attached client mirror. */
export interface ChannelClient {
  /** The VM's desired state moved on: send what the client lacks. */
  channelChanged(): void;
  /** The display released `shadow`: forget its bytes, tell the client to drop it. */
  bufferReleased(shadow: BufferShadow): void;
  /** Whether the client takes inspector events (no event is built when nobody does). */
  readonly wantsEvents: boolean;
  /** An inspector event. */
  channelEvent(event: ChannelEvent): void;
  /** True while the client still knows a buffer by this remote id. */
  holdsRemoteId(id: number): boolean;
}

export interface ChannelEvent {
  readonly t: number;
  readonly vm: string;
  readonly kind: 'scanout' | 'resize' | 'release' | 'status' | 'cursor';
  readonly [key: string]: unknown;
}

interface CachedChunk {
  readonly shadow: BufferShadow;
  readonly gen: number;
  readonly bytes: Uint8Array;
}

export interface VmChannelOptions {
  /** Encoded BUFFER_DATA messages kept for reuse by other clients of this VM. Default 8 MiB. */
  readonly chunkCacheBytes?: number;
  readonly now?: () => number;
}

/**
 * The server side of one VM's display, shared by every client attached to it: it follows the
 * display console, keeps a BufferShadow per live buffer (content versions by hashing), and the
 * state clients converge to — shown primary, cursor shape and position, status. Console events
 * are batched and scanned once per microtask, then every client is told to pump.
 *
 * It exists only while a client is attached (the server disposes it after the last one leaves),
 * so a VM nobody watches costs no hashing.
 */
export class VmChannel extends Disposable {
  public readonly vm: LabVm;
  /** The primary buffer the clients should show (undefined before the first scanout). */
  public primary: BufferShadow | undefined;
  public cursor: BufferShadow | undefined;
  public hotX = 0;
  public hotY = 0;
  /** Bumped on every cursor define (shape, hotspot or removal). */
  public cursorDefGen = 1;
  public cursorX = 0;
  public cursorY = 0;
  public posGen = 1;
  public statusCode: StatusCode = StatusCode.NO_PLANE_YET;
  public statusText = '';
  public statusGen = 1;
  /** Flips seen (scanouts), and the host time (epoch ms) of the vblank that latched the last. */
  public flipSeq = 0;
  public flipVblankMs = 0;
  /** Bytes of guest memory hashed for buffers since released (live ones count their own). */
  public bytesHashedReleased = 0;

  private readonly _shadows = new Map<DisplayBuffer, BufferShadow>();
  private readonly _byRemote = new Map<number, BufferShadow>();
  private readonly _clients = new Set<ChannelClient>();
  private readonly _chunks = new Map<string, CachedChunk>();
  private _chunkBytes = 0;
  private readonly _chunkLimit: number;
  private _chunkHits = 0;
  private _chunkMisses = 0;
  private _nextAlt = ALT_ID_BASE;
  private _flushQueued = false;
  private _everShown = false;
  private readonly _now: () => number;

  public constructor(vm: LabVm, options: VmChannelOptions = {}) {
    super();
    this.vm = vm;
    this._chunkLimit = options.chunkCacheBytes ?? 8 * 1024 * 1024;
    this._now = options.now ?? Date.now;
    const c = vm.display.console;
    this._register(c.onScanout((b) => this._scanout(b)));
    this._register(c.onResize((s) => this._event(() => ({ kind: 'resize', width: s.width, height: s.height }))));
    this._register(c.onCursorDefine((s) => this._cursorDefine(s)));
    this._register(c.onCursorMove((p) => {
      this.cursorX = p.x;
      this.cursorY = p.y;
      this.posGen++;
      this._schedule();
    }));
    this._register(c.onUpdate((rects) => this._update(rects)));
    this._register(c.onStatus((s) => this._status(s)));
    this._register(c.onRelease((b) => this._release(b)));
    // Adopt what the console shows now (a late attach).
    if (c.scanout !== undefined) {
      this.primary = this._shadowFor(c.scanout);
      this._everShown = true;
    }
    if (c.cursor.buffer !== null) this._cursorDefine(c.cursor);
    this.cursorX = c.cursorPosition.x;
    this.cursorY = c.cursorPosition.y;
    this._setStatus(c.status);
  }

  public get clientCount(): number {
    return this._clients.size;
  }

  public get shadowCount(): number {
    return this._shadows.size;
  }

  public get bytesHashed(): number {
    let n = this.bytesHashedReleased;
    for (const s of this._shadows.values()) n += s.bytesHashed;
    return n;
  }

  public get chunkCache(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this._chunks.size, bytes: this._chunkBytes, hits: this._chunkHits, misses: this._chunkMisses };
  }

  public addClient(c: ChannelClient): void {
    this._clients.add(c);
  }

  public removeClient(c: ChannelClient): void {
    this._clients.delete(c);
  }

  /** Live shadow by remote id (inspector and tests). */
  public shadow(remoteId: number): BufferShadow | undefined {
    return this._byRemote.get(remoteId);
  }

  /**
   * A BUFFER_DATA message for blocks [first, last) of `shadow`, shared between clients while
   * the shadow's content versions stay the same. The caller records `shadow.version[first..last)`
   * as what the client now has. Undefined when the buffer is gone.
   */
  public chunk(shadow: BufferShadow, first: number, last: number): Uint8Array | undefined {
    if (!shadow.alive) return undefined;
    const key = `${shadow.remoteId}:${first}:${last}`;
    const hit = this._chunks.get(key);
    if (hit !== undefined && hit.shadow === shadow && hit.gen === shadow.gen) {
      this._chunkHits++;
      // Most recently used goes last.
      this._chunks.delete(key);
      this._chunks.set(key, hit);
      return hit.bytes;
    }
    this._chunkMisses++;
    const start = shadow.blockStart(first);
    const len = shadow.blockEnd(last - 1) - start;
    // allocUnsafeSlow: no zero-fill (every byte is written) and never a pooled slice, so the
    // payload at byte 12 is word-aligned.
    const raw = Buffer.allocUnsafeSlow(PAD + BUFFER_DATA_HEADER + len);
    if (!shadow.read(first, last, raw, PAD + BUFFER_DATA_HEADER)) return undefined;
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    raw[PAD] = Msg.BUFFER_DATA;
    v.setUint32(PAD + 1, shadow.remoteId, true);
    v.setUint32(PAD + 5, start, true);
    const bytes = raw.subarray(PAD);
    if (hit !== undefined) this._dropChunk(key, hit);
    if (bytes.byteLength <= this._chunkLimit) {
      this._chunks.set(key, { shadow, gen: shadow.gen, bytes });
      this._chunkBytes += bytes.byteLength;
      for (const [k, e] of this._chunks) {
        if (this._chunkBytes <= this._chunkLimit) break;
        this._dropChunk(k, e);
      }
    }
    return bytes;
  }

  /** Scan now instead of at the end of the microtask (tests, and before a client's first pump). */
  public flush(): void {
    this._flushQueued = false;
    if (this.isDisposed) return;
    // The cursor plane has no damage events: its 16 KiB are rehashed on every flush.
    this.cursor?.markAll();
    for (const s of this._shadows.values()) {
      if (s.pending) s.scan();
    }
    for (const c of [...this._clients]) c.channelChanged();
  }

  public override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    for (const s of this._shadows.values()) s.alive = false;
    this._shadows.clear();
    this._byRemote.clear();
    this._chunks.clear();
    this._chunkBytes = 0;
    this._clients.clear();
    this.primary = this.cursor = undefined;
  }

  // ---- console events --------------------------------------------------------------------------

  private _scanout(b: DisplayBuffer): void {
    // The display client reports a flip right after the vblank IRQ that latched it; its wake-up
    // time stands in for the vblank's until the console carries the IRQ's own timestamp.
    this.flipSeq = (this.flipSeq + 1) >>> 0;
    this.flipVblankMs = performance.timeOrigin + performance.now();
    const s = this._shadowFor(b);
    s.markAll();
    this.primary = s;
    if (!this._everShown) {
      this._everShown = true;
      this._setStatus(this.vm.display.console.status);
    }
    this._event(() => ({
      kind: 'scanout', id: b.id, remoteId: s.remoteId, bufferKind: b.kind, width: b.width, height: b.height,
      stride: b.stride, drmFormat: b.drmFormat, modifier: `0x${b.modifier.toString(16)}`,
    }));
    this._schedule();
  }

  private _cursorDefine(shape: CursorShape): void {
    if (shape.buffer === null) {
      this.cursor = undefined;
      this.hotX = this.hotY = 0;
    } else {
      const s = this._shadowFor(shape.buffer);
      s.markAll();
      this.cursor = s;
      this.hotX = shape.hotX;
      this.hotY = shape.hotY;
    }
    this.cursorDefGen++;
    this._event(() => ({
      kind: 'cursor', id: shape.buffer?.id ?? null, remoteId: this.cursor?.remoteId ?? null,
      hotX: shape.hotX, hotY: shape.hotY, hotKnown: shape.hotKnown,
    }));
    this._schedule();
  }

  private _update(rects: readonly Rect[]): void {
    const p = this.primary;
    if (p === undefined) return;
    for (const r of rects) p.markRect(r);
    this._schedule();
  }

  private _status(s: DisplayStatus): void {
    this._setStatus(s);
    this._event(() => ({ kind: 'status', reason: s.reason, message: s.message, errno: s.errno }));
    this._schedule();
  }

  private _setStatus(s: DisplayStatus): void {
    const [code, text] = statusFor(s, this._everShown);
    if (code === this.statusCode && text === this.statusText) return;
    this.statusCode = code;
    this.statusText = text;
    this.statusGen++;
  }

  private _release(b: DisplayBuffer): void {
    const s = this._shadows.get(b);
    if (s === undefined) return;
    s.alive = false;
    this.bytesHashedReleased += s.bytesHashed;
    this._shadows.delete(b);
    this._byRemote.delete(s.remoteId);
    if (this.primary === s) this.primary = undefined;
    if (this.cursor === s) {
      this.cursor = undefined;
      this.cursorDefGen++;
    }
    for (const [k, e] of this._chunks) if (e.shadow === s) this._dropChunk(k, e);
    this._event(() => ({ kind: 'release', id: b.id, remoteId: s.remoteId }));
    for (const c of [...this._clients]) c.bufferReleased(s);
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
    }
    return s;
  }

  private _busy(id: number): boolean {
    if (id === NO_BUFFER || this._byRemote.has(id)) return true;
    for (const c of this._clients) if (c.holdsRemoteId(id)) return true;
    return false;
  }

  private _allocId(id: number): number {
    if (!this._busy(id)) return id;
    for (;;) {
      const alt = this._nextAlt;
      this._nextAlt = alt >= 0xffffffff ? ALT_ID_BASE : alt + 1;
      if (!this._busy(alt)) return alt;
    }
  }

  private _dropChunk(key: string, e: CachedChunk): void {
    this._chunks.delete(key);
    this._chunkBytes -= e.bytes.byteLength;
  }

  private _event(make: () => { kind: ChannelEvent['kind']; [key: string]: unknown }): void {
    let any = false;
    for (const c of this._clients) if (c.wantsEvents) { any = true; break; }
    if (!any) return;
    const event: ChannelEvent = { t: this._now(), vm: this.vm.name, ...make() };
    for (const c of this._clients) if (c.wantsEvents) c.channelEvent(event);
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
