import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLOCK_CHAR, FIRST_CHAR, LAST_CHAR, glyph, matchGlyph } from './Font8x16.ts';
import { ocrGrid } from './TextOcr.ts';

const printable = Array.from({ length: LAST_CHAR - FIRST_CHAR + 1 }, (_, i) => FIRST_CHAR + i);

test('95 printable glyphs, pairwise distinct', () => {
  assert.equal(printable.length, 95);
  const keys = new Set(printable.map((c) => Array.from(glyph(c)).join(',')));
  assert.equal(keys.size, 95);
});

test('every printable glyph keeps row 0 blank (OCR takes the top-left pixel as background)', () => {
  for (const c of printable) assert.equal(glyph(c)[0], 0, String.fromCharCode(c));
});

test('every glyph but space has ink, and glyphs differ by at least 4 pixels', () => {
  const bits = (a: Uint8Array, b: Uint8Array): number => {
    let d = 0;
    for (let r = 0; r < 16; r++) for (let x = a[r]! ^ b[r]!; x; x &= x - 1) d++;
    return d;
  };
  const zero = new Uint8Array(16);
  for (const c of printable) if (c !== 0x20) assert.ok(bits(glyph(c), zero) > 0, String.fromCharCode(c));
  for (let i = 0; i < printable.length; i++) {
    for (let j = i + 1; j < printable.length; j++) {
      assert.ok(bits(glyph(printable[i]!), glyph(printable[j]!)) >= 4,
        `${String.fromCharCode(printable[i]!)} vs ${String.fromCharCode(printable[j]!)}`);
    }
  }
});

test('matchGlyph round-trips every printable glyph', () => {
  for (const c of printable) assert.equal(matchGlyph(glyph(c)), c);
});

test('block and out-of-range glyphs are not text', () => {
  assert.deepEqual(Array.from(glyph(BLOCK_CHAR)), new Array(16).fill(0xff));
  assert.equal(matchGlyph(glyph(BLOCK_CHAR)), undefined);
  const box = glyph(0x80);
  assert.equal(matchGlyph(box), undefined);
  assert.notDeepEqual(Array.from(box), Array.from(glyph(0x20)));
  const noisy = Uint8Array.from(glyph(0x41));
  noisy[8]! ^= 1;
  assert.equal(matchGlyph(noisy), undefined);
  assert.equal(matchGlyph(new Uint8Array(4)), undefined);
});

test('ocrGrid reads text in any colours, inverted cells included', () => {
  const text = 'Hi, vGPU! ~_~';
  const w = text.length * 8;
  const px = new Uint32Array(w * 16);
  for (let i = 0; i < text.length; i++) {
    const inv = i === 4; // the cursor cell
    const g = glyph(text.charCodeAt(i));
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 8; x++) {
        const ink = ((g[y]! >> (7 - x)) & 1) === 1;
        px[y * w + i * 8 + x] = ink !== inv ? 0x00ff8800 + i : 0x00102030;
      }
    }
  }
  assert.deepEqual(ocrGrid((x, y) => px[y * w + x]!, text.length, 1), [text]);
  // A cell of garbage reads as the replacement character.
  px[3] = 0x123456;
  px[w + 5] = 0x654321;
  assert.equal(ocrGrid((x, y) => px[y * w + x]!, 1, 1)[0], '\ufffd');
});
