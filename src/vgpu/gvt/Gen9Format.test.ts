import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { decodePlaneFormat, decodePlaneLayout, planeTiling } from './Gen9Format.ts';
import { planeCtlValue } from './GvtRegisters.ts';

/** Spec §3.2 table, written out independently of the decoder. */
function expectedFormat(fmt: number, rgbx: boolean, alpha: number, yuvOrder: number): [number, number] | undefined {
  if (fmt === 0xc) return [DRM_FORMAT.C8, 8];
  if (fmt === 0xe) return [DRM_FORMAT.RGB565, 16];
  if (fmt === 0x4) {
    if (rgbx) return [alpha ? DRM_FORMAT.ABGR8888 : DRM_FORMAT.XBGR8888, 32];
    return [alpha ? DRM_FORMAT.ARGB8888 : DRM_FORMAT.XRGB8888, 32];
  }
  if (fmt === 0x2) return [rgbx ? DRM_FORMAT.XBGR2101010 : DRM_FORMAT.XRGB2101010, 32];
  if (fmt === 0x0) return [[DRM_FORMAT.YUYV, DRM_FORMAT.UYVY, DRM_FORMAT.YVYU, DRM_FORMAT.VYUY][yuvOrder]!, 16];
  return undefined;
}

describe('decodePlaneFormat (spec §3.2, B4)', () => {
  it('maps every format 0..15 × RGBX order × alpha mode × YUV order per the table', () => {
    let supported = 0;
    for (let fmt = 0; fmt < 16; fmt++) {
      for (const rgbx of [false, true]) {
        for (let alpha = 0; alpha < 4; alpha++) {
          for (let yuvOrder = 0; yuvOrder < 4; yuvOrder++) {
            const ctl = planeCtlValue({ format: fmt, rgbxOrder: rgbx, alpha, yuvOrder });
            const got = decodePlaneFormat(ctl);
            const want = expectedFormat(fmt, rgbx, alpha, yuvOrder);
            const label = `fmt ${fmt} rgbx ${rgbx} alpha ${alpha} yuv ${yuvOrder}`;
            if (!want) {
              assert.equal(got, undefined, label);
            } else {
              supported++;
              assert.deepEqual([got?.drmFormat, got?.bpp], want, label);
            }
          }
        }
      }
    }
    assert.equal(supported, 5 * 32); // 5 supported codes × 2 × 4 × 4
  });

  it('ignores unrelated bits (enable, tiling, reserved) but never crashes on any of them', () => {
    const base = planeCtlValue({ format: 4, enable: false });
    for (let bit = 0; bit < 32; bit++) {
      const ctl = (base | (1 << bit)) >>> 0;
      const got = decodePlaneFormat(ctl);
      if (bit >= 24 && bit <= 27) continue; // changes the format itself
      if (bit === 20) assert.equal(got?.drmFormat, DRM_FORMAT.XBGR8888);
      else if (bit === 4 || bit === 5) assert.equal(got?.drmFormat, DRM_FORMAT.ARGB8888);
      else assert.equal(got?.drmFormat, DRM_FORMAT.XRGB8888, `bit ${bit}`);
    }
    assert.equal(decodePlaneFormat(0xffffffff), undefined); // format 0xF
    assert.equal(decodePlaneFormat(-1), undefined);
  });
});

describe('decodePlaneLayout (tiling bits 12:10)', () => {
  const mods = [
    DRM_FORMAT_MOD.LINEAR, DRM_FORMAT_MOD.I915_X_TILED, DRM_FORMAT_MOD.LINEAR, DRM_FORMAT_MOD.LINEAR,
    DRM_FORMAT_MOD.I915_Y_TILED, DRM_FORMAT_MOD.I915_Yf_TILED, DRM_FORMAT_MOD.LINEAR, DRM_FORMAT_MOD.LINEAR,
  ];
  // Bytes per stride unit for 32 bpp; 1 = unknown tiling, the register field is used as is.
  const unit32 = [64, 512, 1, 1, 128, 128, 1, 1];
  const tileHeights = [1, 8, 1, 1, 32, 32, 1, 1];

  it('gives modifier, stride multiplier and tile height for every value 0..7', () => {
    for (let t = 0; t < 8; t++) {
      const ctl = planeCtlValue({ format: 4, tiling: t });
      assert.equal(planeTiling(ctl), t);
      const l = decodePlaneLayout(ctl, 5, 32);
      assert.equal(l.modifier, mods[t], `tiling ${t}`);
      assert.equal(l.stride, 5 * unit32[t]!, `tiling ${t}`);
      assert.equal(l.tileHeight, tileHeights[t], `tiling ${t}`);
    }
  });

  it('uses 64-byte units for 8 bpp Yf and 128 for wider formats', () => {
    const yf = planeCtlValue({ format: 0xc, tiling: 5 });
    assert.equal(decodePlaneLayout(yf, 3, 8).stride, 192);
    assert.equal(decodePlaneLayout(yf, 3, 16).stride, 384);
  });

  it('masks the stride register to bits 9:0 (also for the unknown-tiling quirk)', () => {
    const lin = planeCtlValue({ format: 4 });
    assert.equal(decodePlaneLayout(lin, 0xfffffc01, 32).stride, 64);
    assert.equal(decodePlaneLayout(lin, 0x3ff, 32).stride, 0x3ff * 64);
    const odd = planeCtlValue({ format: 4, tiling: 7 });
    assert.equal(decodePlaneLayout(odd, 0x12345, 32).stride, 0x345);
  });
});
