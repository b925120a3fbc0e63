import type { PixelPacker } from './PixelPacker.ts';

/** ZRLE tiles are 64×64, row by row; edge tiles are smaller (RFC 6143 §7.7.6). */
export const ZRLE_TILE = 64;

/** Growable byte sink for encoders: one buffer reused across updates. */
export class ByteSink {
  public bytes: Uint8Array;
  public length = 0;
  public constructor(initial = 1 << 16) {
    this.bytes = new Uint8Array(initial);
  }
  public reset(): void {
    this.length = 0;
  }
  /** Make room for `n` more bytes; returns the index to write at. */
  public reserve(n: number): number {
    if (this.length + n > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < this.length + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    return this.length;
  }
  public u8(v: number): void {
    const at = this.reserve(1);
    this.bytes[at] = v;
    this.length = at + 1;
  }
  public view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

function runLengthBytes(len: number): number {
  return Math.floor((len - 1) / 255) + 1;
}

function putRunLength(sink: ByteSink, len: number): void {
  let rest = len - 1;
  while (rest >= 255) {
    sink.u8(255);
    rest -= 255;
  }
  sink.u8(rest);
}

/**
 * Encodes rectangles as ZRLE tile data *before* zlib: the caller deflates the bytes on the
 * connection's one zlib stream (Z_SYNC_FLUSH per rectangle) and prefixes the U32 length.
 * For each tile it picks the smallest of solid, packed palette, palette RLE, plain RLE and raw.
 */
export class ZrleEncoder {
  private readonly _values = new Uint32Array(ZRLE_TILE * ZRLE_TILE);
  private readonly _palette = new Map<number, number>();
  private readonly _paletteList: number[] = [];

  /** Append the tiles of the w×h rectangle of RGBA8 at `src[srcIndex]` (row stride `srcStride`). */
  public encode(packer: PixelPacker, src: Uint8Array | Uint8ClampedArray, srcIndex: number, srcStride: number,
    w: number, h: number, sink: ByteSink): void {
    for (let ty = 0; ty < h; ty += ZRLE_TILE) {
      const th = Math.min(ZRLE_TILE, h - ty);
      for (let tx = 0; tx < w; tx += ZRLE_TILE) {
        const tw = Math.min(ZRLE_TILE, w - tx);
        this._tile(packer, src, srcIndex + ty * srcStride + tx * 4, srcStride, tw, th, sink);
      }
    }
  }

  private _tile(packer: PixelPacker, src: Uint8Array | Uint8ClampedArray, at: number, stride: number,
    tw: number, th: number, sink: ByteSink): void {
    const n = tw * th;
    const values = this._values;
    const palette = this._palette;
    const list = this._paletteList;
    palette.clear();
    list.length = 0;
    let runs = 0;
    let singleRuns = 0;
    let runBytes = 0;
    let prev = -1;
    let runLen = 0;
    let k = 0;
    for (let y = 0; y < th; y++) {
      let i = at + y * stride;
      for (let x = 0; x < tw; x++, i += 4) {
        const v = packer.valueAt(src, i);
        values[k++] = v;
        if (list.length <= 127 && !palette.has(v)) {
          palette.set(v, list.length);
          list.push(v);
        }
        if (v === prev) runLen++;
        else {
          if (runLen > 0) { runs++; if (runLen === 1) singleRuns++; runBytes += runLengthBytes(runLen); }
          prev = v;
          runLen = 1;
        }
      }
    }
    runs++;
    if (runLen === 1) singleRuns++;
    runBytes += runLengthBytes(runLen);
    const cp = packer.compactBytes;
    const p = list.length;
    if (p === 1) {
      sink.u8(1);
      const w = sink.reserve(cp);
      sink.length = packer.put(values[0]!, sink.bytes, w, cp);
      return;
    }
    const rawSize = n * cp;
    const plainRle = runs * cp + runBytes;
    let best = rawSize;
    let mode = 0;
    if (plainRle < best) { best = plainRle; mode = 128; }
    if (p <= 16) {
      const bits = p <= 2 ? 1 : p <= 4 ? 2 : 4;
      const packed = p * cp + Math.ceil((tw * bits) / 8) * th;
      if (packed < best) { best = packed; mode = p; }
    }
    if (p <= 127) {
      // A run of one is a bare index; longer runs are index|0x80 plus the run length.
      const paletteRle = p * cp + singleRuns + (runs - singleRuns) + (runBytes - singleRuns);
      if (paletteRle < best) { best = paletteRle; mode = 128 + p; }
    }
    if (mode === 0) {
      sink.u8(0);
      for (let j = 0; j < n; j++) {
        const w = sink.reserve(cp);
        sink.length = packer.put(values[j]!, sink.bytes, w, cp);
      }
      return;
    }
    if (mode === 128) {
      sink.u8(128);
      this._runs(n, (v, len) => {
        const w = sink.reserve(cp);
        sink.length = packer.put(v, sink.bytes, w, cp);
        putRunLength(sink, len);
      });
      return;
    }
    sink.u8(mode);
    for (const v of list) {
      const w = sink.reserve(cp);
      sink.length = packer.put(v, sink.bytes, w, cp);
    }
    if (mode < 128) {
      const bits = p <= 2 ? 1 : p <= 4 ? 2 : 4;
      for (let y = 0; y < th; y++) {
        let byte = 0;
        let used = 0;
        for (let x = 0; x < tw; x++) {
          byte = (byte << bits) | palette.get(values[y * tw + x]!)!;
          used += bits;
          if (used === 8) { sink.u8(byte); byte = 0; used = 0; }
        }
        if (used > 0) sink.u8(byte << (8 - used));
      }
      return;
    }
    this._runs(n, (v, len) => {
      const index = palette.get(v)!;
      if (len === 1) sink.u8(index);
      else { sink.u8(index | 0x80); putRunLength(sink, len); }
    });
  }

  private _runs(n: number, emit: (value: number, len: number) => void): void {
    const values = this._values;
    let start = 0;
    for (let j = 1; j <= n; j++) {
      if (j === n || values[j] !== values[start]) {
        emit(values[start]!, j - start);
        start = j;
      }
    }
  }
}
