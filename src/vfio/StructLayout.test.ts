import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineLayout, readArgsz, readLayout, setField, viewOf, writeLayout } from './StructLayout.ts';

const L = defineLayout('struct t', 16, {
  a: { offset: 0, type: 'u8', c: 'a' },
  b: { offset: 2, type: 'u16', c: 'b' },
  c: { offset: 4, type: 'u32', c: 'c' },
  d: { offset: 8, type: 'u64', c: 'd' },
  dAlias: { offset: 8, type: 'u64', c: 'd2', alias: true },
});

test('little-endian encoding, truncation like C, aliases read but not written', () => {
  const b = new Uint8Array(16);
  assert.equal(writeLayout(L, b, { a: 0x1ff, b: -1, c: -2, d: -1n, dAlias: 5n }), 4);
  assert.equal(Buffer.from(b).toString('hex'), 'ff00ffff' + 'feffffff' + 'ffffffffffffffff');
  assert.deepEqual(readLayout(L, b), {
    a: 0xff, b: 0xffff, c: 0xfffffffe, d: (1n << 64n) - 1n, dAlias: (1n << 64n) - 1n,
  });
  setField(viewOf(b), L.fields.c, 0x1_0000_0007);
  assert.equal(readLayout(L, b).c, 7);
  setField(viewOf(b), L.fields.d, 2 ** 53);
  assert.equal(readLayout(L, b).d, 2n ** 53n);
});

test('fields past a short buffer read as 0 and are not written', () => {
  const b = new Uint8Array(8).fill(1);
  assert.equal(writeLayout(L, b, { c: 9, d: 9n }), 1);
  const r = readLayout(L, b);
  assert.equal(r.c, 9);
  assert.equal(r.d, 0n);
  assert.equal(readArgsz(new Uint8Array(3)), 0);
  assert.equal(readArgsz(new Uint8Array([0x40, 0, 0, 0])), 64);
});
