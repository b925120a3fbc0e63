import { formatInfo } from '../kms/Fourcc.ts';
import type { TileLayout } from '../kms/Tiling.ts';

/** Decoder kinds of the fragment shader (u_kind). */
export const enum ShaderKind {
  PACKED = 0,
  GREY8 = 1,
  YUV422 = 2,
}

/**
 * Uniforms that describe a DRM format to the decode shader: a packed little-endian pixel word of
 * `cpp` bytes with channels at `shift`/`bits` (R, G, B, A; A bits 0 = opaque), C8 as a grey
 * ramp (there is no palette in the protocol), or packed YUV 4:2:2 with the byte index of Y0, U,
 * Y1 and V in its 4-byte unit. Derived from kms/Fourcc.ts so both renderers agree on layouts.
 */
export interface ShaderFormat {
  readonly kind: ShaderKind;
  readonly cpp: number;
  readonly shift: readonly [number, number, number, number];
  readonly bits: readonly [number, number, number, number];
  readonly yuv: readonly [number, number, number, number];
}

const YUV_BYTES: Record<string, [number, number, number, number]> = {
  YUYV: [0, 1, 2, 3],
  UYVY: [1, 0, 3, 2],
  YVYU: [0, 3, 2, 1],
  VYUY: [1, 2, 3, 0],
};

/** Shader parameters for `fourcc`; `opaque` drops alpha (the primary is the bottom plane). */
export function shaderFormat(fourcc: number, opaque: boolean): ShaderFormat | undefined {
  const f = formatInfo(fourcc);
  if (f === undefined) return undefined;
  const none: [number, number, number, number] = [0, 0, 0, 0];
  if (f.indexed === true) return { kind: ShaderKind.GREY8, cpp: 1, shift: none, bits: none, yuv: none };
  if (f.yuvOrder !== undefined) {
    return { kind: ShaderKind.YUV422, cpp: 2, shift: none, bits: none, yuv: YUV_BYTES[f.yuvOrder]! };
  }
  if (f.r === undefined || f.g === undefined || f.b === undefined) return undefined;
  const a = opaque || f.a === undefined ? { shift: 0, bits: 0 } : f.a;
  return {
    kind: ShaderKind.PACKED, cpp: f.cpp,
    shift: [f.r.shift, f.g.shift, f.b.shift, a.shift],
    bits: [f.r.bits, f.g.bits, f.b.bits, a.bits],
    yuv: none,
  };
}

/** u_layout of the decode shader. */
export function shaderLayout(layout: TileLayout): number {
  return layout.name === 'linear' ? 0 : layout.name === 'x' ? 1 : 2;
}

/** Fullscreen triangle; the fragment shader works from gl_FragCoord alone. */
export const DECODE_VS = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
  gl_Position = vec4(p, 0.0, 1.0);
}
`;

/**
 * Raw guest bytes → RGBA, one output pixel per fragment. The raw texture is the buffer as a flat
 * byte array, 4 bytes per RGBA8UI texel, u_texW texels per row. Render target row y is guest row
 * y (so a readback is top-down). Tile addressing is kms/Tiling.ts tiledOffset, transcribed:
 *   X: 4 KiB tiles of 512 B × 8 rows;  Y: 128 B × 32 rows as 8 columns of 16-byte OWords.
 * Channel widening and YUV maths are those of render/FormatDecoder.ts, in integers, so the GPU
 * and the CPU reference give identical bytes.
 */
export const DECODE_FS = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
uniform usampler2D u_raw;
uniform uint u_texW;
uniform uint u_stride;
uniform int u_layout;
uniform int u_kind;
uniform int u_cpp;
uniform ivec4 u_shift;
uniform ivec4 u_bits;
uniform ivec4 u_yuv;
out vec4 o_color;

uint tiledOffset(uint xb, uint y) {
  if (u_layout == 1) {
    uint tile = (y >> 3u) * (u_stride >> 9u) + (xb >> 9u);
    return tile * 4096u + (y & 7u) * 512u + (xb & 511u);
  }
  if (u_layout == 2) {
    uint tile = (y >> 5u) * (u_stride >> 7u) + (xb >> 7u);
    return tile * 4096u + ((xb & 127u) >> 4u) * 512u + (y & 31u) * 16u + (xb & 15u);
  }
  return y * u_stride + xb;
}

uvec4 fetchWord(uint byteOffset) {
  uint w = byteOffset >> 2u;
  return texelFetch(u_raw, ivec2(int(w % u_texW), int(w / u_texW)), 0);
}

uint byteOf(uvec4 b, int i) {
  return i == 0 ? b.r : i == 1 ? b.g : i == 2 ? b.b : b.a;
}

// A channel of \`bits\` bits widened to 8 by bit replication (5 → 8: c << 3 | c >> 2), or
// narrowed by dropping low bits (10 → 8).
float channel(uint v, int shift, int bits) {
  if (bits == 0) return 1.0;
  uint c = (v >> uint(shift)) & ((1u << uint(bits)) - 1u);
  uint c8 = bits >= 8 ? c >> uint(bits - 8) : (c << uint(8 - bits)) | (c >> uint(2 * bits - 8));
  return float(c8) / 255.0;
}

// (v >> 8) clamped to 0..255 without shifting a negative number.
float clampShift8(int v) {
  return float(clamp(v, 0, 65535) >> 8) / 255.0;
}

void main() {
  uint x = uint(gl_FragCoord.x);
  uint y = uint(gl_FragCoord.y);
  if (u_kind == 2) {
    uvec4 b = fetchWord(tiledOffset((x >> 1u) * 4u, y));
    uint yy = (x & 1u) == 0u ? byteOf(b, u_yuv.x) : byteOf(b, u_yuv.z);
    int cb = int(byteOf(b, u_yuv.y)) - 128;
    int cr = int(byteOf(b, u_yuv.w)) - 128;
    int c = 298 * (int(yy) - 16) + 128;
    o_color = vec4(clampShift8(c + 409 * cr), clampShift8(c - 100 * cb - 208 * cr),
      clampShift8(c + 516 * cb), 1.0);
    return;
  }
  uint off = tiledOffset(x * uint(u_cpp), y);
  uvec4 b = fetchWord(off);
  uint v;
  if (u_cpp == 4) {
    v = b.r | (b.g << 8u) | (b.b << 16u) | (b.a << 24u);
  } else if (u_cpp == 2) {
    v = (off & 2u) == 0u ? (b.r | (b.g << 8u)) : (b.b | (b.a << 8u));
  } else {
    v = byteOf(b, int(off & 3u));
  }
  if (u_kind == 1) {
    float g = float(v) / 255.0;
    o_color = vec4(g, g, g, 1.0);
    return;
  }
  o_color = vec4(channel(v, u_shift.x, u_bits.x), channel(v, u_shift.y, u_bits.y),
    channel(v, u_shift.z, u_bits.z), channel(v, u_shift.w, u_bits.w));
}
`;

/** A textured quad: u_dst is the clip-space rectangle (first corner ↔ u_src's first corner). */
export const PRESENT_VS = `#version 300 es
uniform vec4 u_dst;
uniform vec4 u_src;
out vec2 v_uv;
void main() {
  vec2 k = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
  gl_Position = vec4(mix(u_dst.xy, u_dst.zw, k), 0.0, 1.0);
  v_uv = mix(u_src.xy, u_src.zw, k);
}
`;

export const PRESENT_FS = `#version 300 es
precision highp float;
uniform sampler2D u_tex;
in vec2 v_uv;
out vec4 o_color;
void main() {
  o_color = texture(u_tex, v_uv);
}
`;
