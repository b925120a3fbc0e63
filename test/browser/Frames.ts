/**
 * Synthetic guest buffers for the browser tests: raw bytes in any format and tiling, with
 * sentinel colours at known pixels, and the expected RGBA from the CPU reference renderer
 * (src/render/SoftwareRenderer), which the viewer's GPU path must match byte for byte.
 */
import { DRM_FORMAT, formatInfo } from '../../src/kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../src/kms/Modifier.ts';
import { layoutForModifier, tiledOffset, tileRoundedHeight } from '../../src/kms/Tiling.ts';
import {
  encodeBufferCreate, encodeBufferData, encodeCursorDefine, encodeFrame, encodeScanout,
} from '../../src/protocol/RemoteProtocol.ts';
import { contiguousSource } from '../../src/render/PixelSource.ts';
import { SoftwareRenderer } from '../../src/render/SoftwareRenderer.ts';

export interface Synthetic {
  readonly id: number;
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly bytes: Uint8Array;
  /** CPU reference RGBA of the plane as a primary (alpha ignored). */
  readonly expected: Uint8Array;
}

/** RGB sentinels at the four corners: red top-left, green top-right, blue bottom-left, white. */
export const SENTINELS: ReadonlyArray<{ at: 'tl' | 'tr' | 'bl' | 'br'; rgb: [number, number, number] }> = [
  { at: 'tl', rgb: [255, 0, 0] }, { at: 'tr', rgb: [0, 255, 0] },
  { at: 'bl', rgb: [0, 0, 255] }, { at: 'br', rgb: [255, 255, 255] },
];

/** xorshift32: deterministic noise. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s & 0xff;
  };
}

/** Pack an 8-bit RGBA colour into `fourcc`'s little-endian bytes (packed RGB, C8 and YUV). */
export function packColour(fourcc: number, r: number, g: number, b: number, a = 255): number[] {
  const f = formatInfo(fourcc)!;
  if (f.indexed === true) return [Math.round((r + g + b) / 3)];
  if (f.yuvOrder !== undefined) {
    // BT.601 limited range; the tests only use colours that round-trip exactly (see SENTINELS).
    const y = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    const u = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
    const v = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    const order = { YUYV: [y, u, y, v], UYVY: [u, y, v, y], YVYU: [y, v, y, u], VYUY: [v, y, u, y] };
    return order[f.yuvOrder];
  }
  const put = (c: number, ch: { shift: number; bits: number } | undefined): number => {
    if (ch === undefined) return 0;
    const v = ch.bits >= 8 ? (c << (ch.bits - 8)) | (c >>> (16 - ch.bits)) : c >>> (8 - ch.bits);
    return v * 2 ** ch.shift;
  };
  const word = put(r, f.r) + put(g, f.g) + put(b, f.b) + put(a, f.a);
  const out: number[] = [];
  for (let i = 0; i < f.cpp; i++) out.push(Math.floor(word / 2 ** (8 * i)) & 0xff);
  return out;
}

/** The CPU reference composition of a primary (and optional cursor) at guest resolution. */
export function reference(p: Omit<Synthetic, 'expected'>, cursor?: { s: Omit<Synthetic, 'expected'>; x: number; y: number }): Uint8Array {
  const r = new SoftwareRenderer({ opaquePrimary: true });
  const st = r.setPrimary({ source: contiguousSource(p.bytes), drmFormat: p.drmFormat, modifier: p.modifier,
    width: p.width, height: p.height, stride: p.stride });
  if (st !== 'ok') throw new Error(`reference renderer refused the plane: ${st}`);
  if (cursor !== undefined) {
    const c = cursor.s;
    r.setCursor({ source: contiguousSource(c.bytes), drmFormat: c.drmFormat, modifier: c.modifier,
      width: c.width, height: c.height, stride: c.stride, x: cursor.x, y: cursor.y, hotX: 0, hotY: 0 });
  }
  r.render();
  return new Uint8Array(r.framebuffer);
}

/**
 * A `width`×`height` plane of noise with the four corner sentinels, in `fourcc` and the layout
 * of `modifier`. The stride is the row rounded up to 512 bytes (whole X and Y tiles).
 */
export function noisePlane(id: number, fourcc: number, modifier: bigint, width: number, height: number,
  seed = id): Synthetic {
  const f = formatInfo(fourcc)!;
  const layout = layoutForModifier(modifier)!;
  const unitPixels = f.yuvOrder !== undefined ? 2 : 1;
  const unitBytes = f.yuvOrder !== undefined ? 4 : f.cpp;
  const rowBytes = (width / unitPixels) * unitBytes;
  const stride = Math.ceil(rowBytes / 512) * 512;
  const bytes = new Uint8Array(stride * tileRoundedHeight(layout, height));
  const next = rng(seed * 2654435761);
  const units = width / unitPixels;
  const sentinel = (ux: number, y: number): [number, number, number] | undefined => {
    const left = ux === 0;
    const right = ux === units - 1;
    const top = y === 0;
    const bottom = y === height - 1;
    const at = top && left ? 'tl' : top && right ? 'tr' : bottom && left ? 'bl' : bottom && right ? 'br' : undefined;
    return SENTINELS.find((s) => s.at === at)?.rgb;
  };
  for (let y = 0; y < height; y++) {
    for (let ux = 0; ux < units; ux++) {
      const s = sentinel(ux, y);
      let unit: number[];
      if (s !== undefined) {
        unit = packColour(fourcc, ...s);
        if (unitPixels === 1 && unit.length < unitBytes) unit = [...unit, 0, 0, 0].slice(0, unitBytes);
      } else {
        unit = Array.from({ length: unitBytes }, next);
      }
      const off = tiledOffset(layout, stride, ux * unitBytes, y);
      bytes.set(unit, off);
    }
  }
  const base = { id, drmFormat: fourcc, modifier, width, height, stride, bytes };
  return { ...base, expected: reference(base) };
}

/** A solid XRGB8888 linear plane. */
export function solidPlane(id: number, width: number, height: number, rgb: [number, number, number]): Synthetic {
  const stride = width * 4;
  const bytes = new Uint8Array(stride * height);
  for (let i = 0; i < bytes.length; i += 4) bytes.set([rgb[2], rgb[1], rgb[0], 0], i);
  const base = { id, drmFormat: DRM_FORMAT.XRGB8888, modifier: DRM_FORMAT_MOD.LINEAR, width, height, stride, bytes };
  return { ...base, expected: reference(base) };
}

/**
 * A 16×16 ARGB8888 cursor: (0,0) opaque cyan, (1,0) half-transparent blue, the rest of the left
 * half opaque yellow, the right half fully transparent.
 */
export function cursorPlane(id: number): Synthetic {
  const w = 16;
  const stride = w * 4;
  const bytes = new Uint8Array(stride * w);
  for (let y = 0; y < w; y++) {
    for (let x = 0; x < w; x++) {
      const bgra = x === 0 && y === 0 ? [255, 255, 0, 255] : x === 1 && y === 0 ? [255, 0, 0, 128]
        : x < 8 ? [0, 255, 255, 255] : [0, 0, 0, 0];
      bytes.set(bgra, y * stride + x * 4);
    }
  }
  return { id, drmFormat: DRM_FORMAT.ARGB8888, modifier: DRM_FORMAT_MOD.LINEAR, width: w, height: w,
    stride, bytes, expected: new Uint8Array(0) };
}

/** BUFFER_CREATE + BUFFER_DATA (in chunks below the 1 MiB message limit). */
export function bufferMessages(s: Omit<Synthetic, 'expected'>, chunk = 256 * 1024): Uint8Array[] {
  const out = [encodeBufferCreate({ id: s.id, drmFormat: s.drmFormat, modifier: s.modifier, width: s.width,
    height: s.height, stride: s.stride, size: s.bytes.length })];
  for (let o = 0; o < s.bytes.length; o += chunk) {
    out.push(encodeBufferData(s.id, o, s.bytes.subarray(o, Math.min(s.bytes.length, o + chunk))));
  }
  return out;
}

/** Everything to show `s`: create, data, scanout (flip `seq`, latched now), frame. */
export function showMessages(s: Omit<Synthetic, 'expected'>, seq = 1): Uint8Array[] {
  return [...bufferMessages(s), encodeScanout(s.id, seq, performance.timeOrigin + performance.now()),
    encodeFrame(seq, [{ x: 0, y: 0, width: s.width, height: s.height }])];
}

export { encodeCursorDefine };

/** All formats the viewer decodes × linear / X / Y. */
export const FORMAT_CASES: ReadonlyArray<{ name: string; fourcc: number; modifier: bigint }> = (() => {
  const names = ['XRGB8888', 'ARGB8888', 'XBGR8888', 'ABGR8888', 'RGBX8888', 'BGRX8888', 'RGB565',
    'XRGB2101010', 'XBGR2101010', 'C8', 'YUYV', 'UYVY', 'YVYU', 'VYUY'] as const;
  const mods = [['linear', DRM_FORMAT_MOD.LINEAR], ['X', DRM_FORMAT_MOD.I915_X_TILED],
    ['Y', DRM_FORMAT_MOD.I915_Y_TILED]] as const;
  return names.flatMap((n) => mods.map(([m, mod]) => ({ name: `${n} ${m}`, fourcc: DRM_FORMAT[n], modifier: mod })));
})();
