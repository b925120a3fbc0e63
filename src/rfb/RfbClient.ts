import { Disposable } from '../base/Disposable.ts';
import type { Rect } from '../display/DisplayBuffer.ts';
import type { LabVm } from '../server/VmRegistry.ts';
import type { ClientMessage } from './ClientMessages.ts';
import { joinBands } from './DirtyMap.ts';
import { ENCODING, readEncodings, type ClientEncodings } from './Encodings.ts';
import { keysymToEvdev, qnumToEvdev } from './KeyMap.ts';
import { SERVER_PIXEL_FORMAT, checkPixelFormat } from './PixelFormat.ts';
import { PixelPacker } from './PixelPacker.ts';
import type { RfbScreen } from './RfbScreen.ts';
import type { RowMove, ShadowView } from './ScreenShadow.ts';
import { ByteSink, ZrleEncoder } from './Zrle.ts';

/** Deflate on the connection's one zlib stream, ending each rectangle with Z_SYNC_FLUSH. */
export type Deflater = (raw: Uint8Array) => Promise<Uint8Array>;

/** What a client needs of its connection (the socket or WebSocket under it). */
export interface RfbOutput {
  write(bytes: Uint8Array): void;
  /** Bytes written but not yet taken by the peer. */
  readonly buffered: number;
  /** The server-wide output budget has room for another update (it wakes the client when not). */
  readonly mayQueue: boolean;
  close(reason: string): void;
}

export interface RfbClientOptions {
  /** Updates are not built while more than this many bytes wait to be sent. Default 2 MiB. */
  readonly highWater?: number;
  readonly deflater: Deflater;
}

/** Counters, for tests, the bench and the log. */
export interface RfbClientStats {
  updates: number;
  rects: number;
  copyRects: number;
  bytes: number;
  /** Pixels sent in data rectangles. */
  pixels: number;
  /** Updates streamed with count 0xFFFF and ended by LastRect. */
  lastRectUpdates: number;
}

const FENCE_REQUEST = 0x80000000;
const FENCE_FLAGS = 0x7; // BlockBefore | BlockAfter | SyncNext
/** ZRLE updates of at least this many pixels are streamed to LastRect clients. */
const STREAM_PIXELS = 32768;
/** ZRLE updates with more rectangles than this go as row bands. */
const ZRLE_RECTS = 4;

interface Region { x: number; y: number; w: number; h: number }

/**
 * One VNC client of one VM: what it asked for (pixel format, encodings, pending update request,
 * continuous updates), and its view of the VM's ScreenShadow: the pixels it lacks and the row
 * moves it has yet to apply. An update is those moves as CopyRects, then the lacking pixels
 * inside the asked area as few rectangles, encoded from the shadow.
 */
export class RfbClient extends Disposable {
  public readonly stats: RfbClientStats = { updates: 0, rects: 0, copyRects: 0, bytes: 0, pixels: 0, lastRectUpdates: 0 };
  public readonly shared: boolean;
  private readonly _screen: RfbScreen;
  private readonly _vm: LabVm;
  private readonly _out: RfbOutput;
  private readonly _deflate: Deflater;
  private readonly _highWater: number;
  private _packer = new PixelPacker(SERVER_PIXEL_FORMAT);
  private _enc: ClientEncodings = readEncodings([]);
  private _seenEncodings = new Set<number>();
  private _request: { incremental: boolean; region: Region } | undefined;
  private _cu: Region | undefined;
  private readonly _view: ShadowView;
  /** Rectangles of the update being built (reused: no allocation per update for the list). */
  private readonly _rects: Rect[] = [];
  private _width: number;
  private _height: number;
  private _cursorSent: unknown = undefined;
  private _pendingPseudo: Array<(parts: Uint8Array[]) => void> = [];
  private _afterUpdate: Uint8Array[] = [];
  private _sending = false;
  private _buttons = 0;
  private _closed = false;
  private readonly _zrle = new ZrleEncoder();
  private readonly _sink = new ByteSink();

  public constructor(screen: RfbScreen, vm: LabVm, out: RfbOutput, shared: boolean, opts: RfbClientOptions) {
    super();
    this._screen = screen;
    this._vm = vm;
    this._out = out;
    this.shared = shared;
    this._deflate = opts.deflater;
    this._highWater = opts.highWater ?? 2 * 1024 * 1024;
    screen.refresh();
    this._width = screen.shadow.width;
    this._height = screen.shadow.height;
    this._view = screen.shadow.attach();
    this._register(screen.onChange(() => this.pump()));
  }

  /** The size ServerInit announces (the shown primary's, or 0×0 before the first scanout). */
  public get width(): number {
    return this._width;
  }

  public get height(): number {
    return this._height;
  }

  public override dispose(): void {
    this._closed = true;
    this._screen.shadow.detach(this._view);
    this._releaseInput();
    super.dispose();
  }

  /** A parsed client message (after init). */
  public message(m: ClientMessage): void {
    if (this._closed) return;
    switch (m.type) {
      case 'set-pixel-format': {
        const why = checkPixelFormat(m.format);
        if (why !== undefined) return this._fail(`SetPixelFormat: ${why}`);
        this._packer = new PixelPacker(m.format);
        // Pixels already shown were in the old format: the next update resends everything asked.
        this._view.moves.length = 0;
        this._view.dirty.markAll();
        this._cursorSent = undefined;
        return;
      }
      case 'set-encodings':
        return this._setEncodings(m.encodings);
      case 'update-request': {
        const region = this._clip({ x: m.x, y: m.y, w: m.w, h: m.h });
        // With continuous updates on, incremental requests mean nothing (rfbproto).
        if (m.incremental && this._cu !== undefined) return;
        if (!m.incremental || this._request === undefined) this._request = { incremental: m.incremental, region };
        else if (this._request.incremental) this._request = { incremental: true, region: this._union(this._request.region, region) };
        return this.pump();
      }
      case 'continuous-updates': {
        if (!this._enc.continuousUpdates) return this._fail('EnableContinuousUpdates without the ContinuousUpdates encoding');
        if (m.enable) {
          this._cu = this._clip({ x: m.x, y: m.y, w: m.w, h: m.h });
          return this.pump();
        }
        this._cu = undefined;
        this._queueControl(Uint8Array.of(150));
        return;
      }
      case 'fence': {
        if ((m.flags & FENCE_REQUEST) === 0) return; // a reply to ours
        const reply = new Uint8Array(9 + m.payload.length);
        const v = new DataView(reply.buffer);
        reply[0] = 248;
        v.setUint32(4, m.flags & FENCE_FLAGS);
        reply[8] = m.payload.length;
        reply.set(m.payload, 9);
        // After everything sent before it (an update in flight goes first).
        this._queueControl(reply);
        return;
      }
      case 'key':
        return this._key_(keysymToEvdev(m.keysym), m.down);
      case 'qemu-key':
        return this._key_(qnumToEvdev(m.keycode) || keysymToEvdev(m.keysym), m.down);
      case 'pointer':
        return this._pointer(m.mask, m.x, m.y);
      case 'set-desktop-size':
        return this._setDesktopSize(m.width, m.height);
      case 'cut-text':
      case 'xvp':
      case 'qemu-audio':
        return; // no clipboard, power control or audio here: ignored as VNC servers do
    }
  }

  /** Send an update now if one is wanted, possible and not already on its way. */
  public pump(): void {
    if (this._closed || this._sending) return;
    // Nothing is sent unasked: a pending request or continuous updates (TigerVNC's rule).
    if (this._request === undefined && this._cu === undefined) return;
    if (this._out.buffered > this._highWater) return; // the server pumps again on drain
    if (!this._out.mayQueue) return; // the budget wakes us when there is room
    this._screen.refresh();
    const sh = this._screen.shadow;
    const view = this._view;
    const pseudo: Uint8Array[] = [];
    // Resize: the size rectangle goes after the other pseudo rects, and the whole frame follows
    // (the shadow's reset marked every pixel in every view).
    let resized = false;
    if (sh.width > 0 && (sh.width !== this._width || sh.height !== this._height)) {
      if (!this._enc.extendedDesktopSize && !this._enc.desktopSize) {
        return this._fail(`the screen changed to ${sh.width}x${sh.height} and the client takes no DesktopSize`);
      }
      this._width = sh.width;
      this._height = sh.height;
      resized = true;
      if (this._request !== undefined) this._request = { ...this._request, region: this._clip({ x: 0, y: 0, w: 65535, h: 65535 }) };
      if (this._cu !== undefined) this._cu = this._clip({ x: 0, y: 0, w: 65535, h: 65535 });
    }
    for (const f of this._pendingPseudo.splice(0)) f(pseudo);
    if (this._enc.cursor && this._screen.channel.cursor !== this._cursorSent) {
      this._cursorSent = this._screen.channel.cursor;
      pseudo.push(this._cursorRect(this._screen.cursor));
    }
    if (resized) pseudo.push(this._sizeRect(0, 0));
    const nonIncremental = this._request !== undefined && !this._request.incremental;
    const area = this._cu ?? this._request?.region;
    // A non-incremental request asks for its area whatever the client holds.
    if (nonIncremental && area !== undefined) view.dirty.markRect(area.x, area.y, area.w, area.h);
    const rects = area !== undefined && sh.width > 0
      ? view.dirty.take({ x: area.x, y: area.y, width: area.w, height: area.h }, this._rects) : [];
    // ZRLE: past a few rectangles, row bands cost fewer bytes than exact rectangles (see joinBands).
    if (this._enc.data === ENCODING.ZRLE && rects.length > ZRLE_RECTS) joinBands(rects, 16);
    // An incremental request (or continuous updates) waits until there is something to say.
    if (pseudo.length === 0 && rects.length === 0 && view.moves.length === 0 && !nonIncremental) return;
    this._request = undefined;
    // Queued moves go first: the dirty bits already stand for the picture after them.
    const moves = view.moves.splice(0);
    const parts: Uint8Array[] = [];
    for (const m of moves) parts.push(this._copyRect(m));
    const rgba = rects.length > 0 ? sh.render(rects) : undefined;
    // The shadow's format cannot be converted: the update goes without pixels.
    if (rgba === undefined) rects.length = 0;
    this.stats.updates++;
    this.stats.copyRects += moves.length;
    const stride = sh.width * 4;
    if (rects.length > 0 && this._enc.data === ENCODING.ZRLE) {
      this._sending = true;
      void this._zrleRects(rgba!, stride, rects.slice(), pseudo, parts);
      return;
    }
    for (const r of rects) parts.push(this._rawRect(rgba!, stride, r));
    this._send(this._header(pseudo.length + parts.length), pseudo, parts);
  }

  // ---- updates ---------------------------------------------------------------------------------

  private _header(count: number): Uint8Array {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint16(2, count);
    this.stats.rects += count === 0xffff ? 0 : count;
    return header;
  }

  /** Whole rows moved inside the screen: CopyRect from (0, srcY). */
  private _copyRect(m: RowMove): Uint8Array {
    const h = this._rectHeader({ x: 0, y: m.dstY, width: this._width, height: m.height }, ENCODING.COPY_RECT, 4);
    new DataView(h.buffer).setUint16(14, m.srcY);
    return h;
  }

  private _rectHeader(r: Rect, encoding: number, extra = 0): Uint8Array {
    const h = new Uint8Array(12 + extra);
    const v = new DataView(h.buffer);
    v.setUint16(0, r.x);
    v.setUint16(2, r.y);
    v.setUint16(4, r.width);
    v.setUint16(6, r.height);
    v.setInt32(8, encoding);
    return h;
  }

  private _rawRect(rgba: Uint8Array, stride: number, r: Rect): Uint8Array {
    const bpp = this._packer.bytesPerPixel;
    const out = this._rectHeader(r, ENCODING.RAW, r.width * r.height * bpp);
    this._packer.packRect(rgba, r.y * stride + r.x * 4, stride, r.width, r.height, out, 12);
    this.stats.pixels += r.width * r.height;
    return out;
  }

  /**
   * ZRLE: every rectangle is tiled from the RGBA now (the shadow may move on while deflate
   * runs), then deflated in order on the connection's stream. A client that takes LastRect gets a
   * big update streamed (count 0xFFFF): each rectangle is written as soon as it is deflated, and
   * when the client's socket backs up past the high-water mark the update ends early with
   * LastRect — the rectangles not sent stay dirty for the next update. So the count is not known
   * when the header goes out. Small updates (and clients without LastRect) get an exact count.
   */
  private async _zrleRects(rgba: Uint8Array, stride: number, rects: Rect[], pseudo: Uint8Array[], moves: Uint8Array[]): Promise<void> {
    let pixels = 0;
    for (const r of rects) pixels += r.width * r.height;
    const stream = this._enc.lastRect && pixels >= STREAM_PIXELS;
    // Streamed, a tall rectangle goes as bands of one ZRLE tile row (the same tiles, 16 bytes more each).
    if (stream) rects = rects.flatMap((r) => Array.from({ length: Math.ceil(r.height / 64) }, (_, k) => (
      { x: r.x, y: r.y + 64 * k, width: r.width, height: Math.min(64, r.height - 64 * k) })));
    const tiles: Uint8Array[] = [];
    for (const r of rects) {
      this._sink.reset();
      this._zrle.encode(this._packer, rgba, r.y * stride + r.x * 4, stride, r.width, r.height, this._sink);
      tiles.push(this._sink.view().slice());
    }
    const parts: Uint8Array[] = [...moves];
    if (stream) this._sendParts([this._header(0xffff), ...pseudo, ...moves]);
    this.stats.rects += stream ? pseudo.length + moves.length : 0;
    try {
      for (let k = 0; k < rects.length; k++) {
        const r = rects[k]!;
        const z = await this._deflate(tiles[k]!);
        if (this._closed) return;
        const h = this._rectHeader(r, ENCODING.ZRLE, 4);
        new DataView(h.buffer).setUint32(12, z.length);
        this.stats.pixels += r.width * r.height;
        if (!stream) {
          parts.push(h, z);
          continue;
        }
        this._sendParts([h, z]);
        this.stats.rects++;
        if (k + 1 < rects.length && this._out.buffered > this._highWater) {
          // The client is behind: what is left stays dirty and goes in a later update.
          for (let j = k + 1; j < rects.length; j++) this._view.dirty.markRect(rects[j]!.x, rects[j]!.y, rects[j]!.width, rects[j]!.height);
          break;
        }
      }
    } catch (err) {
      this._sending = false;
      return this._fail(`ZRLE: ${err instanceof Error ? err.message : String(err)}`);
    }
    this._sending = false;
    if (this._closed) return;
    if (stream) {
      this._sendParts([this._rectHeader({ x: 0, y: 0, width: 0, height: 0 }, ENCODING.LAST_RECT)]);
      this.stats.lastRectUpdates++;
      for (const c of this._afterUpdate.splice(0)) this._write(c);
    } else {
      this._send(this._header(pseudo.length + moves.length + rects.length), pseudo, parts);
    }
    this.pump();
  }

  /** One whole update: header, pseudo rectangles, the rest; then the control messages that waited. */
  private _send(header: Uint8Array, pseudo: Uint8Array[], rest: Uint8Array[]): void {
    this._sendParts([header, ...pseudo, ...rest]);
    for (const c of this._afterUpdate.splice(0)) this._write(c);
  }

  /** Write parts as one buffer. */
  private _sendParts(parts: Uint8Array[]): void {
    let n = 0;
    for (const b of parts) n += b.length;
    const msg = new Uint8Array(n);
    let at = 0;
    for (const b of parts) {
      msg.set(b, at);
      at += b.length;
    }
    this.stats.bytes += n;
    this._out.write(msg);
  }

  private _write(b: Uint8Array): void {
    this.stats.bytes += b.length;
    this._out.write(b);
  }

  /** Server messages that must follow any update in flight (fences, EndOfContinuousUpdates). */
  private _queueControl(b: Uint8Array): void {
    if (this._sending) this._afterUpdate.push(b);
    else this._write(b);
  }

  // ---- pseudo rectangles -----------------------------------------------------------------------

  private _cursorRect(c: { rgba: Uint8Array; width: number; height: number; hotX: number; hotY: number } | undefined): Uint8Array {
    if (c === undefined) return this._rectHeader({ x: 0, y: 0, width: 0, height: 0 }, ENCODING.CURSOR);
    const { width: w, height: h } = c;
    const bpp = this._packer.bytesPerPixel;
    const maskRow = Math.ceil(w / 8);
    const hx = Math.min(Math.max(0, c.hotX), w - 1);
    const hy = Math.min(Math.max(0, c.hotY), h - 1);
    const out = this._rectHeader({ x: hx, y: hy, width: w, height: h }, ENCODING.CURSOR, w * h * bpp + maskRow * h);
    this._packer.packRect(c.rgba, 0, w * 4, w, h, out, 12);
    const m = 12 + w * h * bpp;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (c.rgba[(y * w + x) * 4 + 3]! >= 128) out[m + y * maskRow + (x >> 3)]! |= 0x80 >> (x & 7);
      }
    }
    return out;
  }

  /** DesktopSize or ExtendedDesktopSize (reason x, status y) for the current size. */
  private _sizeRect(reason: number, status: number): Uint8Array {
    const r = { x: reason, y: status, width: this._width, height: this._height };
    if (!this._enc.extendedDesktopSize) return this._rectHeader({ ...r, x: 0, y: 0 }, ENCODING.DESKTOP_SIZE);
    const out = this._rectHeader(r, ENCODING.EXTENDED_DESKTOP_SIZE, 4 + 16);
    const v = new DataView(out.buffer);
    v.setUint8(12, 1); // one screen
    v.setUint32(16, 0); // id
    v.setUint16(24, this._width);
    v.setUint16(26, this._height);
    return out;
  }

  // ---- requests --------------------------------------------------------------------------------

  private _setEncodings(list: Int32Array): void {
    const before = this._seenEncodings;
    this._enc = readEncodings(list);
    this._view.copyRect = this._enc.copyRect;
    if (!this._enc.copyRect) this._view.dropMoves();
    const now = new Set(list);
    const first = (e: number): boolean => now.has(e) && !before.has(e);
    this._seenEncodings = new Set([...before, ...now]);
    if (first(ENCODING.QEMU_EXT_KEY)) {
      this._pendingPseudo.push((parts) => parts.push(this._rectHeader({ x: 0, y: 0, width: 0, height: 0 }, ENCODING.QEMU_EXT_KEY)));
    }
    if (first(ENCODING.EXTENDED_DESKTOP_SIZE)) {
      // Tell the client the server supports it (rfbproto: sent in reply to its listing).
      this._pendingPseudo.push((parts) => parts.push(this._sizeRect(0, 0)));
    }
    if (first(ENCODING.CONTINUOUS_UPDATES)) this._queueControl(Uint8Array.of(150));
    if (first(ENCODING.FENCE)) {
      const f = new Uint8Array(9);
      f[0] = 248;
      new DataView(f.buffer).setUint32(4, FENCE_REQUEST);
      this._queueControl(f);
    }
    this._cursorSent = undefined;
  }

  private _setDesktopSize(width: number, height: number): void {
    const ok = this._vm.requestResize !== undefined && width > 0 && height > 0;
    if (ok) this._vm.requestResize!(width, height);
    // Answer the requester now with the size that holds; the guest's mode change follows as its own update.
    const status = ok ? 0 : 1;
    this._pendingPseudo.push((parts) => parts.push(this._sizeRect(1, status)));
    this.pump();
  }

  private _clip(r: Region): Region {
    const x = Math.min(r.x, this._width);
    const y = Math.min(r.y, this._height);
    return { x, y, w: Math.max(0, Math.min(r.w, this._width - x)), h: Math.max(0, Math.min(r.h, this._height - y)) };
  }

  private _union(a: Region, b: Region): Region {
    const x = Math.min(a.x, b.x);
    const y = Math.min(a.y, b.y);
    return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
  }

  // ---- input -----------------------------------------------------------------------------------

  private readonly _down = new Set<number>();

  private _key_(code: number, down: boolean): void {
    if (code === 0 || this._vm.sendKey === undefined) return;
    if (down) this._down.add(code);
    else if (!this._down.delete(code)) return; // a release for a key we never pressed
    this._vm.sendKey(code, down);
  }

  private _pointer(mask: number, x: number, y: number): void {
    if (this._vm.sendPointer === undefined) return;
    // RFB: bit 0 left, 1 middle, 2 right; ours: bit 0 left, 1 right, 2 middle (DOM order).
    const buttons = (mask & 1) | ((mask & 4) !== 0 ? 2 : 0) | ((mask & 2) !== 0 ? 4 : 0);
    this._buttons = buttons;
    this._vm.sendPointer({ kind: 'abs', x: Math.min(x, Math.max(0, this._width - 1)), y: Math.min(y, Math.max(0, this._height - 1)), buttons });
  }

  /** Keys and buttons this client holds go up when it leaves (no stuck Ctrl in the guest). */
  private _releaseInput(): void {
    for (const code of this._down) this._vm.sendKey?.(code, false);
    this._down.clear();
    if (this._buttons !== 0) this._vm.sendPointer?.({ kind: 'rel', dx: 0, dy: 0, buttons: 0 });
    this._buttons = 0;
  }

  private _fail(reason: string): void {
    if (this._closed) return;
    this._out.close(reason);
  }
}
