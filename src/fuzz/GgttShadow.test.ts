import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { GTT_BASE } from '../vgpu/gvt/GvtRegisters.ts';
import { GgttShadow } from './GgttShadow.ts';

const ap = { base: 16 * PAGE_SIZE, size: 16 * PAGE_SIZE };
const hid = { base: 64 * PAGE_SIZE, size: 16 * PAGE_SIZE };
const off = (index: number): number => GTT_BASE + index * 8;

describe('GgttShadow (the oracle for exported pages)', () => {
  it('takes writes to the own slices only, and PTEs naming own pages only', () => {
    const s = new GgttShadow(ap, hid, 100);
    s.observe(off(16), (5n << 12n) | 1n);
    s.observe(off(15), (6n << 12n) | 1n); // below the aperture slice
    s.observe(off(64), (100n << 12n) | 1n); // page 100 is past memory
    s.observe(off(65), 7n << 12n); // valid bit clear
    s.observe(off(66), (1n << 32n) | (1n << 12n) | 1n); // high dword: far past memory
    assert.equal(s.page(16), 5);
    assert.equal(s.page(15), -1);
    assert.equal(s.page(64), -1);
    assert.equal(s.page(65), -1);
    assert.equal(s.page(66), -1);
  });

  it('merges 32-bit halves and ignores misaligned accesses', () => {
    const s = new GgttShadow(ap, hid, 100);
    s.observe(off(17) + 4, 0);
    s.observe(off(17), (9 << 12) | 1);
    assert.equal(s.page(17), 9);
    s.observe(off(17) + 2, 0xffff);
    assert.equal(s.page(17), 9);
    s.reset();
    assert.equal(s.page(17), -1);
  });

  it('states the B1 rule: a range must lie inside one slice', () => {
    const s = new GgttShadow({ base: 0, size: 4 * PAGE_SIZE }, { base: 4 * PAGE_SIZE, size: 4 * PAGE_SIZE }, 100);
    assert.ok(s.rangeInOneSlice(0, 4 * PAGE_SIZE));
    assert.ok(s.rangeInOneSlice(4 * PAGE_SIZE, 4 * PAGE_SIZE));
    assert.ok(!s.rangeInOneSlice(3 * PAGE_SIZE, 2 * PAGE_SIZE), 'adjacent slices: straddling is still refused');
    assert.ok(!s.rangeInOneSlice(5 * PAGE_SIZE, 4 * PAGE_SIZE));
  });
});
