import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdid } from './Edid.ts';

/** A minimal EDID 1.4 base block: one detailed timing, a name, a standard and an established timing. */
function edid(w: number, h: number, name: string): Uint8Array {
  const b = new Uint8Array(128);
  b.set([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
  b[18] = 1;
  b[19] = 4;
  b[35] = 0x20; // 640x480@60
  b.fill(0x01, 38, 54);
  b[38] = 1280 / 8 - 31;
  b[39] = (3 << 6) | (60 - 60); // 16:9 → 1280x720@60
  const hb = 160;
  const vb = 30;
  const clock = Math.round(((w + hb) * (h + vb) * 60) / 10_000);
  const d = 54;
  b[d] = clock & 0xff;
  b[d + 1] = clock >> 8;
  b[d + 2] = w & 0xff;
  b[d + 3] = hb & 0xff;
  b[d + 4] = ((w >> 8) << 4) | (hb >> 8);
  b[d + 5] = h & 0xff;
  b[d + 6] = vb & 0xff;
  b[d + 7] = ((h >> 8) << 4) | (vb >> 8);
  const n = 72;
  b[n + 3] = 0xfc;
  const text = `${name}\n`.padEnd(13, ' ');
  for (let i = 0; i < 13; i++) b[n + 5 + i] = text.charCodeAt(i);
  let sum = 0;
  for (let i = 0; i < 127; i++) sum += b[i]!;
  b[127] = (256 - (sum & 0xff)) & 0xff;
  return b;
}

test('the first detailed timing is the preferred mode; standard and established follow', () => {
  const info = parseEdid(edid(1920, 1080, 'vGPU Panel'));
  assert.ok(typeof info !== 'number', 'typeof info !== \'number\'');
  assert.deepEqual(info.modes.map((m) => `${m.width}x${m.height}`), ['1920x1080', '1280x720', '640x480']);
  assert.equal(info.modes[0]!.refresh, 60);
  assert.equal(info.name, 'vGPU Panel');
});

test('bad header, checksum or length → -EINVAL', () => {
  const b = edid(1024, 768, 'x');
  const bad = Uint8Array.from(b);
  bad[127] ^= 1;
  assert.equal(parseEdid(bad), -22);
  const hdr = Uint8Array.from(b);
  hdr[0] = 1;
  assert.equal(parseEdid(hdr), -22);
  assert.equal(parseEdid(b.subarray(0, 100)), -22);
});
