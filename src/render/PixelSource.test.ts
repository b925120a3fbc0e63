import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPixelSource, contiguousSource, PixelReader } from './PixelSource.ts';
import type { PixelSource } from './PixelSource.ts';

/** `data` split into chunks of the given sizes, each placed at a different spot of a backing buffer. */
function scatter(data: Uint8Array, sizes: number[]): PixelSource {
  const backing = new Uint8Array(data.length * 2 + sizes.length * 64);
  const chunks: Uint8Array[] = [];
  const offsets: number[] = [];
  let at = 0;
  let place = backing.length;
  for (const n of sizes) {
    place -= n + 17; // reverse order with gaps: never contiguous in memory
    const view = backing.subarray(place, place + n);
    view.set(data.subarray(at, at + n));
    chunks.push(view);
    offsets.push(at);
    at += n;
  }
  return { chunks, chunkOffsets: offsets, length: at };
}

const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 255);

test('checkPixelSource accepts ordered contiguous chunks and names what is wrong otherwise', () => {
  const d = pattern(100);
  assert.equal(checkPixelSource(contiguousSource(d)), undefined);
  assert.equal(checkPixelSource(scatter(d, [30, 0, 70])), undefined);
  assert.match(checkPixelSource({ chunks: [d], chunkOffsets: [], length: 100 })!, /chunk offsets/);
  assert.match(checkPixelSource({ chunks: [d, d], chunkOffsets: [0, 101], length: 200 })!, /starts at 101/);
  assert.match(checkPixelSource({ chunks: [d], chunkOffsets: [0], length: 99 })!, /length is 99/);
  assert.throws(() => new PixelReader({ chunks: [d], chunkOffsets: [0], length: 99 }), RangeError);
});

test('reader: every byte and word reads the same from uniform, irregular and one-chunk sources', () => {
  const d = pattern(10000);
  const dv = new DataView(d.buffer);
  const sources = [
    contiguousSource(d),
    scatter(d, [4096, 4096, 1808]),
    scatter(d, [1, 1000, 3, 4096, 0, 2, 4898]),
  ];
  for (const s of sources) {
    const r = new PixelReader(s);
    assert.equal(r.contiguous, s.chunks.length === 1);
    for (let i = 0; i < d.length; i++) assert.equal(r.u8(i), d[i]);
    // Backwards and straddling reads too.
    for (let i = d.length - 4; i >= 0; i -= 3) {
      assert.equal(r.u16(i), dv.getUint16(i, true));
      assert.equal(r.u32(i), dv.getUint32(i, true));
    }
    assert.equal(r.u8(-1), 0);
    assert.equal(r.u8(d.length), 0);
    assert.equal(r.seek(d.length), false);
  }
});

test('forEachSpan visits views of the source in order, no copies', () => {
  const d = pattern(9000);
  const s = scatter(d, [4096, 4096, 808]);
  const r = new PixelReader(s);
  const seen: number[] = [];
  const n = r.forEachSpan(4000, 5000, (bytes, index, length, at) => {
    assert.ok(s.chunks.includes(bytes), 'span is one of the chunks, not a copy');
    for (let i = 0; i < length; i++) assert.equal(bytes[index + i], d[at + i]);
    seen.push(at, length);
  });
  assert.equal(n, 5000);
  assert.deepEqual(seen, [4000, 96, 4096, 4096, 8192, 808]);
  assert.equal(r.forEachSpan(8900, 500, () => {}), 100);
});

test('a one-chunk source is a view of the caller buffer', () => {
  const d = pattern(64);
  const r = new PixelReader(contiguousSource(d));
  d[10] = 0xee;
  assert.equal(r.u8(10), 0xee);
});
