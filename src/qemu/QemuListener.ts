import { Disposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import type { DisplayBuffer, Rect } from '../display/DisplayBuffer.ts';
import type { DisplayConsole } from '../display/DisplayConsole.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { libc } from '../linux/Libc.ts';
import type { Mapping } from '../vfio/Sys.ts';
import { DbusError, ERR, type CallContext, type DbusConnection, type MethodSpec } from './dbus/DbusConnection.ts';
import { fdIdentity, mapFd } from './MappedFd.ts';
import { pixmanFormat } from './PixmanFormat.ts';

export const LISTENER_PATH = '/org/qemu/Display1/Listener';
export const LISTENER_IFACE = 'org.qemu.Display1.Listener';
export const MAP_IFACE = 'org.qemu.Display1.Listener.Unix.Map';
export const DMABUF2_IFACE = 'org.qemu.Display1.Listener.Unix.ScanoutDMABUF2';

/** Largest surface accepted from QEMU (its own limit is 16384 per side for most devices). */
const MAX_SIDE = 16384;
const MAX_CURSOR = 512;
/** Distinct shared buffers (dma-bufs, memfds) kept mapped; a guest flips between two or three. */
export const MAX_SHARED = 8;

/** What the listener counts (`probe` and the bench print these). */
export interface ListenerStats {
  scanouts: number;
  updates: number;
  /** Pixel bytes copied out of D-Bus messages (Scanout/Update) or to flip a bottom-up dma-buf. */
  bytesCopied: number;
  /** Pixel bytes that arrived inside messages. */
  bytesReceived: number;
  /** Shared buffers (memfd/dma-buf) mapped, and flips that found theirs already mapped. */
  sharedMapped: number;
  sharedReused: number;
  cursorDefines: number;
  mouseSets: number;
  disables: number;
  /** Updates that did not fit the last Scanout (QEMU 7.2's text-mode resize). */
  outOfBounds: number;
  /** Calls refused with a D-Bus error (bad geometry, unknown format, ...). */
  refused: number;
  /** Listener methods QEMU called at least once. */
  readonly used: Set<string>;
}

export function newListenerStats(): ListenerStats {
  return {
    scanouts: 0, updates: 0, bytesCopied: 0, bytesReceived: 0, sharedMapped: 0, sharedReused: 0,
    cursorDefines: 0, mouseSets: 0, disables: 0, outOfBounds: 0, refused: 0, used: new Set(),
  };
}

interface Frame {
  readonly buffer: DisplayBuffer;
  /** Writable bytes for the copy path; undefined for shared mappings. */
  readonly bytes?: Uint8Array;
  /** Shared buffer cache key (inode), if any. */
  readonly key?: string;
}

interface Shared {
  readonly key: string;
  /** width x height / fourcc: a guest's flip chain shares it; a mode change retires the rest. */
  readonly mode: string;
  readonly fd: number;
  readonly mapping: Mapping;
  readonly buffer: DisplayBuffer;
  /** A bottom-up buffer's top-down copy (what `buffer` shows), refreshed on damage and re-show. */
  readonly flipped?: Uint8Array;
  used: number;
}

let nextBufferId = 1;

/** A frame over our own bytes (pixel data copied in): shown as a region buffer. */
function stagingFrame(bytes: Uint8Array, width: number, height: number, stride: number, drmFormat: number): Frame {
  const buffer: DisplayBuffer = {
    id: nextBufferId++, fd: -1, kind: 'region', planeType: 1,
    mapping: { length: bytes.length, chunks: [bytes], chunkOffsets: [0], unmap: () => undefined },
    drmFormat, modifier: 0n, width, height, stride, size: bytes.length,
  };
  return { buffer, bytes };
}

function refuse(stats: ListenerStats, message: string): never {
  stats.refused++;
  throw new DbusError(ERR.InvalidArgs, message);
}

/**
 * The org.qemu.Display1.Listener object QEMU calls on the peer-to-peer connection we hand it,
 * turned into DisplayConsole events. One per console; it outlives the connections (a re-register
 * serves the same object on a new one), so the picture and its buffers persist across them.
 *
 * Pixel data in Scanout/Update is copied once into a staging frame (counted). ScanoutMap and
 * ScanoutDMABUF map the fd and show it in place; buffers are deduplicated by inode, so a guest
 * flipping between two buffers maps each once. Handlers never wait on anything: QEMU's replies
 * (GetAll, UpdateDMABUF) go out as soon as the call is decoded.
 *
 * QEMU never says when a buffer dies, and every fd we keep pins its pages (a udmabuf or memfd:
 * guest RAM; a VFIO dma-buf: the vGPU's). So the cache lets go: of buffers of another mode when a
 * new one arrives, of all of them on a pixel Scanout, on Disable and when the connection closes
 * (the last picture then stays as a counted copy), and of the least recently shown beyond
 * MAX_SHARED. Identity is the fd's inode: a dma-buf has its own inode per buffer (a udmabuf's is
 * not its memfd's) and fstat's size is the dma-buf's size; a memfd's is the file.
 */
export class QemuListener extends Disposable {
  private readonly _onOutOfBounds = this._register(new Emitter<{ width: number; height: number }>());
  /** An Update did not fit the last Scanout: the surface changed size without a Scanout (7.2). */
  public readonly onOutOfBounds = this._onOutOfBounds.event;
  public readonly stats = newListenerStats();
  private _frame: Frame | undefined;
  private readonly _shared = new Map<string, Shared>();
  private _cursorShape: { buffer: DisplayBuffer; hotX: number; hotY: number } | undefined;
  private _cursorOn = true;
  private _useCount = 0;

  public constructor(private readonly _console: DisplayConsole, private readonly _optional: readonly string[] = [MAP_IFACE, DMABUF2_IFACE]) {
    super();
  }

  /** The optional interfaces this listener announces in its `Interfaces` property. */
  public get interfaces(): readonly string[] {
    return this._optional;
  }

  /** Serve the listener on `conn` (call before handing QEMU the other end). */
  public serveOn(conn: DbusConnection): void {
    const m = (sig: string, fn: (a: unknown[], ctx: CallContext) => void, name: string): MethodSpec => ({
      in: sig, out: '', fn: (a, ctx) => { this.stats.used.add(name); fn(a, ctx); },
    });
    conn.serve(LISTENER_PATH, LISTENER_IFACE, {
      methods: {
        Scanout: m('uuuuay', (a) => this._scanout(a[0] as number, a[1] as number, a[2] as number, a[3] as number, a[4] as Uint8Array), 'Scanout'),
        Update: m('iiiiuuay', (a) => this._update(a[0] as number, a[1] as number, a[2] as number, a[3] as number, a[4] as number, a[5] as number, a[6] as Uint8Array), 'Update'),
        ScanoutDMABUF: m('huuuutb', (a, ctx) => this._scanoutShared(ctx.takeFd(a[0] as number), 0, a[1] as number, a[2] as number, a[3] as number, a[4] as number, a[5] as bigint, a[6] as boolean, 'dmabuf'), 'ScanoutDMABUF'),
        UpdateDMABUF: m('iiii', (a) => this._damage(a[0] as number, a[1] as number, a[2] as number, a[3] as number), 'UpdateDMABUF'),
        Disable: m('', () => this._disable(), 'Disable'),
        MouseSet: m('iii', (a) => this._mouseSet(a[0] as number, a[1] as number, a[2] as number), 'MouseSet'),
        CursorDefine: m('iiiiay', (a) => this._cursorDefine(a[0] as number, a[1] as number, a[2] as number, a[3] as number, a[4] as Uint8Array), 'CursorDefine'),
      },
      properties: () => ({ Interfaces: { sig: 'as', value: [...this._optional] } }),
    });
    // QEMU went away or we re-register: its fds must not outlive the connection.
    conn.onClose(() => this._retire());
    if (this._optional.includes(MAP_IFACE)) {
      conn.serve(LISTENER_PATH, MAP_IFACE, {
        methods: {
          ScanoutMap: m('huuuuu', (a, ctx) => {
            const f = pixmanFormat(a[5] as number) ?? refuse(this.stats, `pixman format 0x${(a[5] as number).toString(16)} is not supported`);
            this._scanoutShared(ctx.takeFd(a[0] as number), a[1] as number, a[2] as number, a[3] as number, a[4] as number, f.drm, 0n, true, 'map');
          }, 'ScanoutMap'),
          UpdateMap: m('iiii', (a) => this._damage(a[0] as number, a[1] as number, a[2] as number, a[3] as number), 'UpdateMap'),
        },
      });
    }
    if (this._optional.includes(DMABUF2_IFACE)) {
      conn.serve(LISTENER_PATH, DMABUF2_IFACE, {
        methods: {
          ScanoutDMABUF2: m('ahuuuuauauuuuutb', (a, ctx) => {
            const idx = a[0] as number[];
            const [x, y, w, h] = [a[1], a[2], a[3], a[4]] as number[];
            const offsets = a[5] as number[];
            const strides = a[6] as number[];
            const planes = a[7] as number;
            // One plane is what a display scanout uses (RGB); multi-plane YUV is refused.
            if (planes !== 1 || idx.length !== 1 || offsets.length < 1 || strides.length < 1) refuse(this.stats, `ScanoutDMABUF2 with ${planes} planes is not supported`);
            if (x !== 0 || y !== 0 || w !== a[9] || h !== a[10]) refuse(this.stats, 'ScanoutDMABUF2 of a sub-rectangle is not supported');
            this._scanoutShared(ctx.takeFd(idx[0]!), offsets[0]!, w!, h!, strides[0]!, a[8] as number, a[11] as bigint, a[12] as boolean, 'dmabuf');
          }, 'ScanoutDMABUF2'),
        },
      });
    }
  }

  private _geometry(width: number, height: number, stride: number, cpp: number): void {
    if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) refuse(this.stats, `surface ${width}x${height} is out of range`);
    if (stride < width * cpp || stride > MAX_SIDE * 8) refuse(this.stats, `stride ${stride} does not fit width ${width}`);
  }

  private _scanout(width: number, height: number, stride: number, pixman: number, data: Uint8Array): void {
    const f = pixmanFormat(pixman) ?? refuse(this.stats, `pixman format 0x${pixman.toString(16)} is not supported`);
    this._geometry(width, height, stride, f.cpp);
    if (data.length < stride * (height - 1) + width * f.cpp) refuse(this.stats, `Scanout data of ${data.length} bytes is short for ${width}x${height} stride ${stride}`);
    this.stats.scanouts++;
    this.stats.bytesReceived += data.length;
    const cur = this._frame;
    const b = cur?.buffer;
    if (cur?.bytes && b && b.width === width && b.height === height && b.stride === stride && b.drmFormat === f.drm) {
      // Same surface: refresh the staging copy in place (the mirror diffs it), no new buffer.
      cur.bytes.set(data.subarray(0, stride * height));
      this.stats.bytesCopied += stride * height;
      this._console.setStatus('ok', 'QEMU display');
      this._console.update([{ x: 0, y: 0, width, height }]);
      return;
    }
    const bytes = new Uint8Array(stride * height);
    bytes.set(data.subarray(0, Math.min(data.length, bytes.length)));
    this.stats.bytesCopied += bytes.length;
    this._show(stagingFrame(bytes, width, height, stride, f.drm));
    // QEMU switched this console to a plain surface: the dma-buf/memfd flip chain is over.
    this._dropShared();
  }

  private _show(frame: Frame, ok = true): void {
    const old = this._frame;
    this._frame = frame;
    this._console.showScanout(frame.buffer);
    if (ok) this._console.setStatus('ok', 'QEMU display');
    if (old && old.buffer !== frame.buffer && (old.key === undefined || !this._shared.has(old.key))) this._console.release(old.buffer);
  }

  /** Close every shared buffer; a shown one is first copied (counted) so the picture stays. */
  private _retire(): void {
    const cur = this._frame;
    if (cur?.key !== undefined && this._shared.has(cur.key)) {
      const b = cur.buffer;
      const bytes = b.mapping.chunks[0]!.slice(0, b.size);
      this.stats.bytesCopied += bytes.length;
      this._show(stagingFrame(bytes, b.width, b.height, b.stride, b.drmFormat), false);
    }
    this._dropShared();
  }

  private _dropShared(keep?: (s: Shared) => boolean): void {
    for (const s of [...this._shared.values()]) if (s.buffer !== this._frame?.buffer && !keep?.(s)) this._drop(s);
  }

  private _update(x: number, y: number, w: number, h: number, stride: number, pixman: number, data: Uint8Array): void {
    this.stats.updates++;
    this.stats.bytesReceived += data.length;
    const fr = this._frame;
    const f = pixmanFormat(pixman) ?? refuse(this.stats, `pixman format 0x${pixman.toString(16)} is not supported`);
    if (w < 1 || h < 1 || x < 0 || y < 0 || stride < w * f.cpp || data.length < stride * (h - 1) + w * f.cpp) {
      refuse(this.stats, `Update ${w}x${h}+${x}+${y} stride ${stride} with ${data.length} bytes is malformed`);
    }
    if (!fr?.bytes || x + w > fr.buffer.width || y + h > fr.buffer.height || f.drm !== fr.buffer.drmFormat) {
      // 7.2 switched surfaces without a Scanout (VGA text mode): ask for a fresh one.
      this.stats.outOfBounds++;
      this._onOutOfBounds.fire({ width: x + w, height: y + h });
      return;
    }
    const dst = fr.bytes;
    const ds = fr.buffer.stride;
    const row = w * f.cpp;
    for (let r = 0; r < h; r++) {
      const s = r * stride;
      dst.set(data.subarray(s, s + row), (y + r) * ds + x * f.cpp);
    }
    this.stats.bytesCopied += row * h;
    this._console.update([{ x, y, width: w, height: h }]);
  }

  private _damage(x: number, y: number, w: number, h: number): void {
    this.stats.updates++;
    const b = this._frame?.buffer;
    if (!b) return;
    const r: Rect = { x: Math.max(0, x), y: Math.max(0, y), width: Math.min(b.width, x + w) - Math.max(0, x), height: Math.min(b.height, y + h) - Math.max(0, y) };
    if (r.width <= 0 || r.height <= 0) return;
    const s = this._frame?.key === undefined ? undefined : this._shared.get(this._frame.key);
    if (s?.flipped) this._flip(s, r.y, r.height);
    this._console.update([r]);
  }

  /** Rows [y, y + h) of a bottom-up buffer into its top-down copy (counted). */
  private _flip(s: Shared, y: number, h: number): void {
    const { stride, height } = s.buffer;
    const src = s.mapping.chunks[0]!;
    for (let r = y; r < y + h; r++) s.flipped!.set(src.subarray((height - 1 - r) * stride, (height - r) * stride), r * stride);
    this.stats.bytesCopied += h * stride;
  }

  private _scanoutShared(fd: number, offset: number, width: number, height: number, stride: number, fourcc: number, modifier: bigint, y0Top: boolean, kind: 'map' | 'dmabuf'): void {
    let owned = true;
    try {
      const cpp = fourcc === DRM_FORMAT.RGB565 ? 2 : 4;
      this._geometry(width, height, stride, cpp);
      if (modifier !== 0n) refuse(this.stats, `modifier 0x${modifier.toString(16)} cannot be read by the CPU (only linear)`);
      const id = fdIdentity(fd) ?? refuse(this.stats, 'the fd cannot be fstat()ed');
      const length = stride * height;
      if (id.size > 0 && offset + length > id.size) refuse(this.stats, `${kind} of ${id.size} bytes is short for ${length} bytes at ${offset}`);
      const mode = `${width}x${height}/${fourcc}`;
      const key = `${id.key}@${offset}/${width}x${height}/${stride}/${fourcc}/${y0Top ? 1 : 0}`;
      this.stats.scanouts++;
      const hit = this._shared.get(key);
      if (hit) {
        hit.used = ++this._useCount;
        this.stats.sharedReused++;
        if (hit.flipped) this._flip(hit, 0, height);
        this._show({ buffer: hit.buffer, key });
        this._console.update([{ x: 0, y: 0, width, height }]);
        return;
      }
      const mapping = mapFd(fd, offset, length);
      if (typeof mapping === 'string') refuse(this.stats, `${kind}: ${mapping}`);
      // Bottom-up (a GL framebuffer): shown from a top-down copy, counted.
      const flipped = y0Top ? undefined : new Uint8Array(length);
      const shown: Mapping = flipped ? { length, chunks: [flipped], chunkOffsets: [0], unmap: () => undefined } : mapping;
      const buffer: DisplayBuffer = {
        id: nextBufferId++, fd, kind: flipped ? 'region' : 'dmabuf', planeType: 1, mapping: shown, drmFormat: fourcc, modifier,
        width, height, stride, size: length,
      };
      owned = false;
      const entry: Shared = { key, mode, fd, mapping, buffer, flipped, used: ++this._useCount };
      if (flipped) this._flip(entry, 0, height);
      this._shared.set(key, entry);
      this.stats.sharedMapped++;
      this._show({ buffer, key });
      // A new mode: buffers of the old one will not be flipped to again.
      this._dropShared((s) => s.mode === mode);
      this._evict();
    } finally {
      if (owned) libc().close(fd);
    }
  }

  private _evict(): void {
    while (this._shared.size > MAX_SHARED) {
      let oldest: Shared | undefined;
      for (const s of this._shared.values()) if (s.buffer !== this._frame?.buffer && (!oldest || s.used < oldest.used)) oldest = s;
      if (!oldest) return;
      this._drop(oldest);
    }
  }

  private _drop(s: Shared): void {
    this._shared.delete(s.key);
    s.mapping.unmap();
    libc().close(s.fd);
    this._console.release(s.buffer);
  }

  private _disable(): void {
    this.stats.disables++;
    this._retire();
    this._console.setStatus('plane-disabled', 'QEMU disabled the display');
  }

  /** Shared buffers (dma-bufs, memfds) currently mapped and held open. */
  public get sharedHeld(): number {
    return this._shared.size;
  }

  private _cursorDefine(width: number, height: number, hotX: number, hotY: number, data: Uint8Array): void {
    if (width < 1 || height < 1 || width > MAX_CURSOR || height > MAX_CURSOR) refuse(this.stats, `cursor ${width}x${height} is out of range`);
    if (data.length < width * height * 4) refuse(this.stats, `cursor data of ${data.length} bytes is short for ${width}x${height}`);
    this.stats.cursorDefines++;
    const bytes = data.slice(0, width * height * 4);
    this.stats.bytesCopied += bytes.length;
    const buffer: DisplayBuffer = {
      id: nextBufferId++, fd: -1, kind: 'region', planeType: 2,
      mapping: { length: bytes.length, chunks: [bytes], chunkOffsets: [0], unmap: () => undefined },
      drmFormat: DRM_FORMAT.ARGB8888, modifier: 0n, width, height, stride: width * 4, size: bytes.length,
    };
    const old = this._cursorShape?.buffer;
    this._cursorShape = { buffer, hotX: Math.max(0, hotX), hotY: Math.max(0, hotY) };
    if (this._cursorOn) this._console.defineCursor({ buffer, hotX: this._cursorShape.hotX, hotY: this._cursorShape.hotY, hotKnown: true });
    if (old) this._console.release(old);
  }

  private _mouseSet(x: number, y: number, on: number): void {
    this.stats.mouseSets++;
    const s = this._cursorShape;
    const visible = on !== 0;
    if (visible !== this._cursorOn) {
      this._cursorOn = visible;
      if (!visible) this._console.defineCursor({ buffer: null, hotX: 0, hotY: 0, hotKnown: false });
      else if (s) this._console.defineCursor({ buffer: s.buffer, hotX: s.hotX, hotY: s.hotY, hotKnown: true });
    }
    // MouseSet gives the pointer (hotspot) position; the console wants the image's top-left.
    this._console.moveCursor(x - (s?.hotX ?? 0), y - (s?.hotY ?? 0));
  }

  /** Current surface size (0x0 before the first Scanout). */
  public get size(): { width: number; height: number } {
    const b = this._frame?.buffer;
    return { width: b?.width ?? 0, height: b?.height ?? 0 };
  }

  public override dispose(): void {
    if (this.isDisposed) return;
    // Released before unmapped: the console drops its reference first, so no reader sees freed memory.
    for (const s of [...this._shared.values()]) this._drop(s);
    super.dispose();
  }
}
