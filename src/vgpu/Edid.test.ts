import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EDID_BLOCK_SIZE, buildEdid, cvtReducedBlanking, firstDetailedTiming, preferredMode, validateEdid,
} from './Edid.ts';

const sum = (b: Uint8Array): number => b.subarray(0, 128).reduce((a, x) => a + x, 0);
const MODES: Array<[number, number]> = [[640, 480], [1024, 768], [1920, 1080], [3840, 2160]];

test('structure: header, manufacturer, version 1.4, checksum, no extensions', () => {
  const e = buildEdid({ width: 1024, height: 768 });
  assert.equal(e.byteLength, EDID_BLOCK_SIZE);
  assert.deepEqual([...e.subarray(0, 8)], [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
  const mfg = (e[8]! << 8) | e[9]!;
  const letters = [mfg >> 10, (mfg >> 5) & 31, mfg & 31].map((c) => String.fromCharCode(64 + c)).join('');
  assert.match(letters, /^[A-Z]{3}$/);
  assert.equal(mfg >> 15, 0, 'bit 15 of the manufacturer id is reserved 0');
  assert.deepEqual([e[18], e[19]], [1, 4]);
  assert.equal(e[126], 0);
  assert.equal(sum(e) % 256, 0);
  assert.ok(validateEdid(e));
});

test('preferredMode round trip', () => {
  for (const [width, height] of MODES) {
    const e = buildEdid({ width, height });
    assert.equal(sum(e) % 256, 0, `${width}x${height} checksum`);
    assert.ok(validateEdid(e));
    assert.deepEqual(preferredMode(e), { width, height });
    assert.deepEqual(preferredMode(buildEdid({ width, height, refreshHz: 30 })), { width, height });
  }
});

test('preferredMode round trip (property), any name', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 4095 }), fc.integer({ min: 1, max: 2400 }), fc.string({ maxLength: 20 }),
    (width, height, name) => {
      const e = buildEdid({ width, height, name });
      assert.ok(validateEdid(e));
      assert.deepEqual(preferredMode(e), { width, height });
    },
  ));
});

test('timings are CVT reduced blanking (1920x1080@60 = 138.5 MHz, 2080x1111)', () => {
  const t = firstDetailedTiming(buildEdid({ width: 1920, height: 1080 }))!;
  assert.deepEqual(t, {
    clock10kHz: 13850, hActive: 1920, hBlank: 160, hFront: 48, hSync: 32,
    vActive: 1080, vBlank: 31, vFront: 3, vSync: 5,
  });
  const uhd = cvtReducedBlanking(3840, 2160, 60);
  assert.equal(uhd.clock10kHz, 53325); // 533.25 MHz
  const refresh = (uhd.clock10kHz * 1e4) / ((3840 + uhd.hBlank) * (2160 + uhd.vBlank));
  assert.ok(Math.abs(refresh - 60) < 0.1, `refresh ${refresh}`);
  assert.equal(cvtReducedBlanking(1024, 768, 60).vSync, 4); // 4:3
  assert.equal(cvtReducedBlanking(1280, 800, 60).vSync, 6); // 16:10
});

test('monitor name descriptor', () => {
  const e = buildEdid({ width: 800, height: 600, name: 'mbochs' });
  const at = [54, 72, 90, 108].find((o) => e[o] === 0 && e[o + 1] === 0 && e[o + 3] === 0xfc)!;
  assert.ok(at !== undefined);
  assert.equal(Buffer.from(e.subarray(at + 5, at + 18)).toString('latin1'), 'mbochs\n      ');
  const long = buildEdid({ width: 800, height: 600, name: 'a-very-long-monitor-name' });
  assert.ok(validateEdid(long));
});

test('validateEdid rejects bad checksum, header, short blocks', () => {
  const e = buildEdid({ width: 640, height: 480 });
  assert.equal(validateEdid(e.subarray(0, 127)), false);
  const bad = e.slice();
  bad[60]! ^= 1;
  assert.equal(validateEdid(bad), false);
  assert.equal(preferredMode(bad), undefined);
  const hdr = e.slice();
  hdr[0] = 1;
  hdr[127] = (hdr[127]! - 1) & 0xff; // checksum still fine, header not
  assert.equal(sum(hdr) % 256, 0);
  assert.equal(validateEdid(hdr), false);
  const longer = new Uint8Array(256);
  longer.set(e);
  assert.ok(validateEdid(longer));
  assert.deepEqual(preferredMode(longer), { width: 640, height: 480 });
});

test('unrepresentable modes throw RangeError', () => {
  assert.throws(() => buildEdid({ width: 4096, height: 2160 }), RangeError);
  assert.throws(() => buildEdid({ width: 0, height: 480 }), RangeError);
  assert.throws(() => buildEdid({ width: 640.5, height: 480 }), RangeError);
  assert.throws(() => buildEdid({ width: 3840, height: 2160, refreshHz: 144 }), RangeError); // > 655.35 MHz
  assert.throws(() => buildEdid({ width: 640, height: 480, refreshHz: 0 }), RangeError);
});
