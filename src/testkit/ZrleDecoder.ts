/**
 * An independent ZRLE tile decoder for tests (written from RFC 6143 §7.7.6, sharing nothing with
 * the encoder): inflated ZRLE bytes of a w×h rectangle → one pixel value per pixel, where a pixel
 * is read as `cp` bytes in the given byte order.
 */
export function decodeZrleTiles(data: Uint8Array, w: number, h: number, cp: number, bigEndian: boolean): Uint32Array {
  const out = new Uint32Array(w * h);
  let i = 0;
  const pixel = (): number => {
    let v = 0;
    for (let k = 0; k < cp; k++) {
      const byte = data[i++];
      if (byte === undefined) throw new Error('ZRLE data ended inside a pixel');
      v = bigEndian ? (v * 256 + byte) : v + byte * 2 ** (8 * k);
    }
    return v >>> 0;
  };
  const u8 = (): number => {
    const byte = data[i++];
    if (byte === undefined) throw new Error('ZRLE data ended early');
    return byte;
  };
  const runLength = (): number => {
    let len = 1;
    for (;;) {
      const b = u8();
      len += b;
      if (b !== 255) return len;
    }
  };
  for (let ty = 0; ty < h; ty += 64) {
    const th = Math.min(64, h - ty);
    for (let tx = 0; tx < w; tx += 64) {
      const tw = Math.min(64, w - tx);
      const set = (k: number, v: number): void => {
        out[(ty + Math.floor(k / tw)) * w + tx + (k % tw)] = v;
      };
      const sub = u8();
      if (sub === 0) {
        for (let k = 0; k < tw * th; k++) set(k, pixel());
      } else if (sub === 1) {
        const v = pixel();
        for (let k = 0; k < tw * th; k++) set(k, v);
      } else if (sub >= 2 && sub <= 16) {
        const pal = Array.from({ length: sub }, pixel);
        const bits = sub === 2 ? 1 : sub <= 4 ? 2 : 4;
        for (let y = 0; y < th; y++) {
          let byte = 0;
          let left = 0;
          for (let x = 0; x < tw; x++) {
            if (left === 0) { byte = u8(); left = 8; }
            left -= bits;
            const idx = (byte >> left) & ((1 << bits) - 1);
            if (idx >= sub) throw new Error(`palette index ${idx} out of ${sub}`);
            set(y * tw + x, pal[idx]!);
          }
        }
      } else if (sub === 128) {
        let k = 0;
        while (k < tw * th) {
          const v = pixel();
          const len = runLength();
          for (let r = 0; r < len; r++) set(k++, v);
        }
        if (k !== tw * th) throw new Error('RLE run past the tile');
      } else if (sub >= 130) {
        const pal = Array.from({ length: sub - 128 }, pixel);
        let k = 0;
        while (k < tw * th) {
          const b = u8();
          const idx = b & 0x7f;
          if (idx >= pal.length) throw new Error(`palette index ${idx} out of ${pal.length}`);
          const len = b & 0x80 ? runLength() : 1;
          for (let r = 0; r < len; r++) set(k++, pal[idx]!);
        }
        if (k !== tw * th) throw new Error('palette RLE run past the tile');
      } else {
        throw new Error(`reserved ZRLE subencoding ${sub}`);
      }
    }
  }
  if (i !== data.length) throw new Error(`${data.length - i} bytes left after the last tile`);
  return out;
}
