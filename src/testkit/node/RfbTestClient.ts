import { connect, type Socket } from 'node:net';
import { constants as zc, createInflate, type Inflate } from 'node:zlib';
import { decodeZrleTiles } from '../ZrleDecoder.ts';

/** A client pixel format, as the wire has it. */
export interface TestPixelFormat {
  bpp: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  rMax: number; gMax: number; bMax: number;
  rShift: number; gShift: number; bShift: number;
}

export const NOVNC_FORMAT: TestPixelFormat = { bpp: 32, depth: 24, bigEndian: false, rMax: 255, gMax: 255, bMax: 255, rShift: 0, gShift: 8, bShift: 16 };

export interface TestUpdate {
  readonly bytes: number;
  readonly rects: Array<{ x: number; y: number; w: number; h: number; encoding: number }>;
  /** The rectangle count of the header (0xFFFF: ended by LastRect). */
  readonly count: number;
}

/**
 * A small RFB 3.8 client for tests, written from RFC 6143 independently of the server: it keeps
 * a framebuffer of client pixel values, decodes Raw, CopyRect and ZRLE (with its own zlib
 * stream and tile decoder), and the Cursor, DesktopSize and ExtendedDesktopSize pseudo-rects.
 */
export class RfbTestClient {
  public width = 0;
  public height = 0;
  public name = '';
  public fb = new Uint32Array(0);
  public format: TestPixelFormat = { bpp: 32, depth: 24, bigEndian: false, rMax: 255, gMax: 255, bMax: 255, rShift: 16, gShift: 8, bShift: 0 };
  public updates: TestUpdate[] = [];
  public cursor: { w: number; h: number; hotX: number; hotY: number; pixels: Uint32Array; mask: Uint8Array } | undefined;
  public extSizeReplies: Array<{ reason: number; status: number; w: number; h: number }> = [];
  public fences = 0;
  public endOfCu = 0;
  /** Updates that ended with a LastRect pseudo-rectangle. */
  public lastRects = 0;
  public closed = false;
  public readonly socket: Socket;
  private _buf = Buffer.alloc(0);
  private _waiters: Array<() => void> = [];
  private _inflate: Inflate | undefined;
  private _inflated: Buffer[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => { this._buf = Buffer.concat([this._buf, d]); this._wake(); });
    socket.on('close', () => { this.closed = true; this._wake(); });
    socket.on('error', () => {});
  }

  public static async connect(port: number, opts: { shared?: boolean; host?: string } = {}): Promise<RfbTestClient> {
    const s = connect({ host: opts.host ?? '127.0.0.1', port });
    await new Promise<void>((r, j) => { s.once('connect', () => r()); s.once('error', j); });
    const c = new RfbTestClient(s);
    const v = (await c._read(12)).toString();
    if (v !== 'RFB 003.008\n') throw new Error(`server version ${JSON.stringify(v)}`);
    s.write('RFB 003.008\n');
    const n = (await c._read(1))[0]!;
    const types = [...(await c._read(n))];
    if (!types.includes(1)) throw new Error(`no None security: ${types}`);
    s.write(Buffer.of(1));
    const result = (await c._read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`security result ${result}`);
    s.write(Buffer.of(opts.shared === false ? 0 : 1));
    const init = await c._read(24);
    c.width = init.readUInt16BE(0);
    c.height = init.readUInt16BE(2);
    c.name = (await c._read(init.readUInt32BE(20))).toString();
    c.fb = new Uint32Array(c.width * c.height);
    return c;
  }

  public setPixelFormat(f: TestPixelFormat): void {
    this.format = f;
    const b = Buffer.alloc(20);
    b[0] = 0;
    b[4] = f.bpp; b[5] = f.depth; b[6] = f.bigEndian ? 1 : 0; b[7] = 1;
    b.writeUInt16BE(f.rMax, 8); b.writeUInt16BE(f.gMax, 10); b.writeUInt16BE(f.bMax, 12);
    b[14] = f.rShift; b[15] = f.gShift; b[16] = f.bShift;
    this.socket.write(b);
  }

  public setEncodings(list: number[]): void {
    const b = Buffer.alloc(4 + 4 * list.length);
    b[0] = 2;
    b.writeUInt16BE(list.length, 2);
    list.forEach((e, i) => b.writeInt32BE(e, 4 + 4 * i));
    this.socket.write(b);
  }

  public request(incremental: boolean, x = 0, y = 0, w = this.width, h = this.height): void {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(x, 2); b.writeUInt16BE(y, 4); b.writeUInt16BE(w, 6); b.writeUInt16BE(h, 8);
    this.socket.write(b);
  }

  public send(bytes: number[] | Buffer): void {
    this.socket.write(Buffer.from(bytes));
  }

  /** Read server messages until one FramebufferUpdate has been applied; returns it. */
  public async nextUpdate(): Promise<TestUpdate> {
    for (;;) {
      const type = (await this._read(1))[0]!;
      if (type === 0) return this._update();
      if (type === 150) { this.endOfCu++; continue; }
      if (type === 2) continue; // bell
      if (type === 248) {
        const h = await this._read(8);
        await this._read(h[7]!);
        this.fences++;
        continue;
      }
      if (type === 3) {
        const h = await this._read(7);
        await this._read(h.readUInt32BE(3));
        continue;
      }
      throw new Error(`unknown server message ${type}`);
    }
  }

  /** The pixel at (x, y) as 0xRRGGBB (channels scaled to 8 bits). */
  public rgb(x: number, y: number): number {
    const f = this.format;
    const v = this.fb[y * this.width + x]!;
    const ch = (shift: number, max: number): number => Math.round((((v >>> shift) & max) * 255) / max);
    return (ch(f.rShift, f.rMax) << 16) | (ch(f.gShift, f.gMax) << 8) | ch(f.bShift, f.bMax);
  }

  public close(): void {
    this.socket.destroy();
    this._inflate?.close();
  }

  private async _update(): Promise<TestUpdate> {
    const h = await this._read(3);
    const n = h.readUInt16BE(1);
    let bytes = 4;
    const rects: TestUpdate['rects'] = [];
    for (let i = 0; i < n; i++) {
      const r = await this._read(12);
      bytes += 12;
      const x = r.readUInt16BE(0), y = r.readUInt16BE(2), w = r.readUInt16BE(4), hh = r.readUInt16BE(6);
      const enc = r.readInt32BE(8);
      rects.push({ x, y, w, h: hh, encoding: enc });
      const bpp = this.format.bpp / 8;
      if (enc === 0) {
        const d = await this._read(w * hh * bpp);
        bytes += d.length;
        for (let k = 0; k < w * hh; k++) this.fb[(y + Math.floor(k / w)) * this.width + x + (k % w)] = this._pixel(d, k * bpp, bpp);
      } else if (enc === 1) {
        const s = await this._read(4);
        bytes += 4;
        const sx = s.readUInt16BE(0), sy = s.readUInt16BE(2);
        const copy = new Uint32Array(w * hh);
        for (let yy = 0; yy < hh; yy++) for (let xx = 0; xx < w; xx++) copy[yy * w + xx] = this.fb[(sy + yy) * this.width + sx + xx]!;
        for (let yy = 0; yy < hh; yy++) for (let xx = 0; xx < w; xx++) this.fb[(y + yy) * this.width + x + xx] = copy[yy * w + xx]!;
      } else if (enc === 16) {
        const len = (await this._read(4)).readUInt32BE(0);
        const z = await this._read(len);
        bytes += 4 + len;
        const raw = await this._inflateChunk(z);
        const f = this.format;
        const cp = f.bpp === 32 && f.depth <= 24 ? 3 : bpp;
        const vals = decodeZrleTiles(raw, w, hh, cp, f.bigEndian);
        const hiShift = cp === 3 && Math.max(f.rShift, f.gShift, f.bShift) + 8 > 24 ? 8 : 0;
        for (let k = 0; k < w * hh; k++) this.fb[(y + Math.floor(k / w)) * this.width + x + (k % w)] = (vals[k]! * 2 ** hiShift) >>> 0;
      } else if (enc === -239) {
        const d = await this._read(w * hh * bpp + Math.ceil(w / 8) * hh);
        bytes += d.length;
        const pixels = new Uint32Array(w * hh);
        for (let k = 0; k < w * hh; k++) pixels[k] = this._pixel(d, k * bpp, bpp);
        this.cursor = w === 0 ? undefined : { w, h: hh, hotX: x, hotY: y, pixels, mask: d.subarray(w * hh * bpp) };
      } else if (enc === -223) {
        this._resize(w, hh);
      } else if (enc === -308) {
        const d = await this._read(4);
        const screens = d[0]!;
        await this._read(16 * screens);
        bytes += 4 + 16 * screens;
        this.extSizeReplies.push({ reason: x, status: y, w, h: hh });
        if (x !== 1 || y === 0) this._resize(w, hh);
      } else if (enc === -224) {
        this.lastRects++;
        break; // LastRect: the update ends here whatever its count said (0xFFFF)
      } else if (enc === -258) {
        // ext-key ack: no data
      } else {
        throw new Error(`unexpected encoding ${enc}`);
      }
    }
    const u = { bytes, rects, count: n };
    this.updates.push(u);
    return u;
  }

  private _resize(w: number, h: number): void {
    if (w === this.width && h === this.height) return;
    this.width = w;
    this.height = h;
    this.fb = new Uint32Array(w * h);
  }

  private _pixel(d: Buffer, at: number, bpp: number): number {
    if (bpp === 1) return d[at]!;
    if (bpp === 2) return this.format.bigEndian ? d.readUInt16BE(at) : d.readUInt16LE(at);
    return this.format.bigEndian ? d.readUInt32BE(at) : d.readUInt32LE(at);
  }

  private _inflateChunk(z: Buffer): Promise<Uint8Array> {
    if (this._inflate === undefined) {
      this._inflate = createInflate();
      this._inflate.on('data', (c: Buffer) => this._inflated.push(c));
    }
    const inf = this._inflate;
    return new Promise((resolve) => {
      inf.write(z);
      inf.flush(zc.Z_SYNC_FLUSH, () => resolve(new Uint8Array(Buffer.concat(this._inflated.splice(0)))));
    });
  }

  private async _read(n: number): Promise<Buffer> {
    while (this._buf.length < n) {
      if (this.closed) throw new Error(`connection closed (wanted ${n} bytes, have ${this._buf.length})`);
      await new Promise<void>((r) => this._waiters.push(r));
    }
    const out = this._buf.subarray(0, n);
    this._buf = this._buf.subarray(n);
    return Buffer.from(out);
  }

  private _wake(): void {
    for (const w of this._waiters.splice(0)) w();
  }
}
