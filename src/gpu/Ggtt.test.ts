import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ggtt, type GgttAssignment } from './Ggtt.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const pte = (page: number, valid = true): bigint => (BigInt(page) << 12n) | (valid ? 1n : 0n);

/** 16 MiB GGTT (4096 pages), mappable 8 MiB: vm 1 gets ap [1M, 2M) + hidden [9M, 11M). */
function setup(): { g: Ggtt; a1: GgttAssignment } {
  const g = new Ggtt(4096);
  const a1: GgttAssignment = {
    aperture: { base: 1 * MiB, size: 1 * MiB },
    hidden: { base: 9 * MiB, size: 2 * MiB },
    guestPageCount: 1000,
  };
  g.assign(1, a1);
  return { g, a1 };
}

describe('Ggtt configuration', () => {
  it('rejects bad sizes and bad assignments with RangeError', () => {
    assert.throws(() => new Ggtt(0), RangeError);
    assert.throws(() => new Ggtt(1.5), RangeError);
    assert.throws(() => new Ggtt((1 << 20) + 1), RangeError);
    assert.throws(() => new Ggtt(16, { mappableSize: 100 }), RangeError);
    const { g } = setup();
    const ok = { aperture: { base: 2 * MiB, size: MiB }, hidden: { base: 11 * MiB, size: MiB }, guestPageCount: 10 };
    assert.throws(() => g.assign(1, ok), /already/);
    assert.throws(() => g.assign(-1, ok), RangeError);
    assert.throws(() => g.assign(2, { ...ok, aperture: { base: 100, size: MiB } }), /aligned/);
    // Aperture slices live below the mappable boundary, hidden ones above it.
    assert.throws(() => g.assign(2, { ...ok, aperture: { base: 8 * MiB, size: MiB } }), /outside/);
    assert.throws(() => g.assign(2, { ...ok, hidden: { base: 7 * MiB, size: MiB } }), /outside/);
    assert.throws(() => g.assign(2, { ...ok, hidden: { base: 16 * MiB, size: 4 * KiB } }), /outside/);
    assert.throws(() => g.assign(2, { ...ok, aperture: { base: 1.5 * MiB, size: MiB } }), /overlap/);
    assert.throws(() => g.assign(2, { ...ok, hidden: { base: 10 * MiB, size: MiB } }), /overlap/);
    g.assign(2, ok);
    assert.deepEqual(g.assignment(2), ok);
  });

  it('allocate places slices first-fit and reports exhaustion', () => {
    const g = new Ggtt(1024); // 4 MiB, 2 MiB mappable
    const a = g.allocate(1, MiB, MiB, 16)!;
    const b = g.allocate(2, MiB, MiB, 16)!;
    assert.deepEqual([a.aperture.base, a.hidden.base], [0, 2 * MiB]);
    assert.deepEqual([b.aperture.base, b.hidden.base], [MiB, 3 * MiB]);
    assert.equal(g.allocate(3, 4 * KiB, 4 * KiB, 16), undefined);
    g.release(1);
    const c = g.allocate(3, 512 * KiB, 512 * KiB, 16)!;
    assert.deepEqual([c.aperture.base, c.hidden.base], [0, 2 * MiB]);
  });
});

describe('Ggtt PTE writes', () => {
  it('stores valid PTEs, translates them, and reads back what the guest wrote', () => {
    const { g } = setup();
    const idx = (1 * MiB) / 4096;
    assert.equal(g.writePte(1, idx, pte(7) | 0x2n), true);
    assert.equal(g.translate(1, 1 * MiB), 7);
    assert.equal(g.translate(1, 1 * MiB + 4095), 7);
    assert.equal(g.readPte(1, idx), pte(7) | 0x2n);
    assert.equal(g.readPte32(1, idx, 0), 0x7003);
    // A PTE with the valid bit clear invalidates the entry without counting as refused.
    g.writePte(1, idx, pte(7, false));
    assert.equal(g.translate(1, 1 * MiB), -1);
    assert.deepEqual(g.counters(1), { droppedWrites: 0, invalidPtes: 0 });
  });

  it('drops (and counts) writes outside the writer\'s slices', () => {
    const { g } = setup();
    const before = g.generation(1);
    for (const idx of [0, 255, 512, 2047, 2304 - 1, 2816, 4095, 4096, -1, 1.5, 1e9]) {
      assert.equal(g.writePte(1, idx, pte(1)), false, `index ${idx}`);
    }
    assert.equal(g.counters(1).droppedWrites, 11);
    assert.equal(g.generation(1), before);
    // A writer that has no slices at all is counted in the totals.
    assert.equal(g.writePte(9, 300, pte(1)), false);
    assert.equal(g.totals.droppedWrites, 12);
    assert.equal(g.readPte(1, 0), 0n);
    // Slice edges: first and last page of each slice are writable, one past is not.
    assert.equal(g.writePte(1, 256, pte(1)), true);
    assert.equal(g.writePte(1, 511, pte(1)), true);
    assert.equal(g.writePte(1, 2304, pte(1)), true);
    assert.equal(g.writePte(1, 2815, pte(1)), true);
  });

  it('stores a PTE naming a page outside the VM\'s memory as invalid (counted)', () => {
    const { g } = setup();
    assert.equal(g.writePte(1, 256, pte(999)), true);
    assert.equal(g.translate(1, MiB), 999);
    assert.equal(g.writePte(1, 256, pte(1000)), true);
    assert.equal(g.translate(1, MiB), -1);
    // Huge addresses (bit 63 set) are out of range too, and still read back as written.
    const huge = (1n << 63n) | pte(5);
    g.writePte(1, 257, huge);
    assert.equal(g.translate(1, MiB + 4096), -1);
    assert.equal(g.readPte(1, 257), huge);
    assert.equal(g.counters(1).invalidPtes, 2);
    assert.equal(g.totals.invalidPtes, 2);
    // Negative bigint wraps to 64 bits rather than throwing.
    assert.equal(g.writePte(1, 258, -1n), true);
    assert.equal(g.translate(1, MiB + 8192), -1);
  });

  it('merges 32-bit halves and validates the whole PTE', () => {
    const { g } = setup();
    g.writePte32(1, 256, 0, 0x5001);
    assert.equal(g.translate(1, MiB), 5);
    g.writePte32(1, 256, 1, 1); // now gpa = 2^32 + 0x5000: outside memory
    assert.equal(g.translate(1, MiB), -1);
    assert.equal(g.readPte(1, 256), (1n << 32n) | 0x5001n);
    g.writePte32(1, 256, 1, 0);
    assert.equal(g.translate(1, MiB), 5);
    assert.equal(g.writePte32(1, 0, 0, 0x5001), false);
  });
});

describe('Ggtt isolation', () => {
  it('translate only sees entries owned by the asking VM', () => {
    const { g } = setup();
    g.assign(2, { aperture: { base: 2 * MiB, size: MiB }, hidden: { base: 11 * MiB, size: MiB }, guestPageCount: 50 });
    g.writePte(1, 256, pte(3));
    g.writePte(2, 512, pte(4));
    assert.equal(g.translate(1, MiB), 3);
    assert.equal(g.translate(2, MiB), -1);
    assert.equal(g.translate(2, 2 * MiB), 4);
    assert.equal(g.translate(1, 2 * MiB), -1);
    // VM 2 cannot write into VM 1's slice, nor read VM 1's PTEs back.
    assert.equal(g.writePte(2, 256, pte(9)), false);
    assert.equal(g.translate(1, MiB), 3);
    assert.equal(g.readPte(2, 256), 0n);
    assert.equal(g.translateRange(2, MiB, 4096), null);
  });

  it('invalidateVm clears only that VM; release frees the slices', () => {
    const { g } = setup();
    g.assign(2, { aperture: { base: 2 * MiB, size: MiB }, hidden: { base: 11 * MiB, size: MiB }, guestPageCount: 50 });
    g.writePte(1, 256, pte(3));
    g.writePte(2, 512, pte(4));
    const gen = g.generation(1);
    g.invalidateVm(1);
    assert.ok(g.generation(1) > gen);
    assert.equal(g.translate(1, MiB), -1);
    assert.equal(g.readPte(1, 256), 0n);
    assert.equal(g.translate(2, 2 * MiB), 4);
    g.writePte(1, 256, pte(3));
    g.release(1);
    assert.equal(g.translate(1, MiB), -1);
    assert.equal(g.assignment(1), undefined);
    // A new tenant of the same slice starts with invalid entries.
    g.assign(3, { aperture: { base: MiB, size: MiB }, hidden: { base: 13 * MiB, size: MiB }, guestPageCount: 50 });
    assert.equal(g.translate(3, MiB), -1);
    assert.equal(g.readPte(3, 256), 0n);
  });

  it('translateRange returns every page or null', () => {
    const { g } = setup();
    g.writePte(1, 256, pte(10));
    g.writePte(1, 257, pte(20));
    assert.deepEqual([...g.translateRange(1, MiB, 8192)!], [10, 20]);
    assert.deepEqual([...g.translateRange(1, MiB, 4097)!], [10, 20]);
    assert.equal(g.translateRange(1, MiB, 8193), null);
    assert.equal(g.translateRange(1, MiB + 1, 10), null);
    assert.equal(g.translateRange(1, MiB, 0), null);
    assert.equal(g.translateRange(1, 16 * MiB - 4096, 8192), null);
  });
});

describe('Ggtt.validateRange (spec §3.5, B1)', () => {
  const { g } = setup();
  const apEnd = 2 * MiB;
  const hidEnd = 11 * MiB;

  it('size 0 checks only the start address', () => {
    assert.equal(g.validateRange(1, MiB, 0), true);
    assert.equal(g.validateRange(1, apEnd - 1, 0), true);
    assert.equal(g.validateRange(1, apEnd, 0), false);
    assert.equal(g.validateRange(1, 9 * MiB, 0), true);
    assert.equal(g.validateRange(1, 0, 0), false);
  });

  it('accepts exact fits at both edges of both slices', () => {
    assert.equal(g.validateRange(1, MiB, MiB), true);
    assert.equal(g.validateRange(1, apEnd - 4096, 4096), true);
    assert.equal(g.validateRange(1, 9 * MiB, 2 * MiB), true);
    assert.equal(g.validateRange(1, hidEnd - 1, 1), true);
  });

  it('rejects a range ending one byte or one page past a slice', () => {
    assert.equal(g.validateRange(1, MiB, MiB + 1), false);
    assert.equal(g.validateRange(1, apEnd - 4096, 8192), false);
    assert.equal(g.validateRange(1, 9 * MiB, 2 * MiB + 4096), false);
    assert.equal(g.validateRange(1, MiB - 4096, 8192), false);
  });

  it('rejects a range straddling aperture → hidden even though both ends are valid', () => {
    // Both ends lie in the VM's own slices: the pre-2019 per-end check would accept it.
    assert.equal(g.isValidGma(1, MiB), true);
    assert.equal(g.isValidGma(1, 9 * MiB), true);
    assert.equal(g.validateRange(1, MiB, 8 * MiB + 1), false);
    assert.equal(g.validateRange(1, apEnd - 4096, hidEnd - apEnd + 4096), false);
  });

  it('rejects bad input and unknown VMs', () => {
    assert.equal(g.validateRange(1, MiB, -1), false);
    assert.equal(g.validateRange(1, MiB, 1.5), false);
    assert.equal(g.validateRange(1, Number.NaN, 1), false);
    assert.equal(g.validateRange(2, MiB, 4096), false);
    assert.equal(g.validateRange(1, MiB, 2 ** 53), false);
  });
});

describe('Ggtt translateRange memo', () => {
  it('returns the same walk while the VM maps nothing, and a fresh one after any PTE write', () => {
    const { g, a1 } = setup();
    const base = a1.aperture.base;
    const idx = base / 4096;
    for (let i = 0; i < 4; i++) g.writePte(1, idx + i, (BigInt(100 + i) << 12n) | 1n);
    const first = g.translateRange(1, base, 4 * 4096);
    assert.deepEqual([...first!], [100, 101, 102, 103]);
    assert.equal(g.translateRange(1, base, 4 * 4096), first, 'unchanged GGTT: the remembered walk');
    g.writePte(1, idx + 2, (200n << 12n) | 1n);
    const second = g.translateRange(1, base, 4 * 4096);
    assert.notEqual(second, first);
    assert.deepEqual([...second!], [100, 101, 200, 103], 'a remap is seen at once');
    g.writePte(1, idx + 3, 0n);
    assert.equal(g.translateRange(1, base, 4 * 4096), null, 'an unmapped page is seen at once');
  });
});
