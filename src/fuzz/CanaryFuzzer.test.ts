import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno } from '../base/Errno.ts';
import { Ggtt } from '../gpu/Ggtt.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { DmabufFile } from '../vfio/DmabufFile.ts';
import { GvtMdev } from '../vfio/GvtMdev.ts';
import type { Mapping } from '../vfio/Sys.ts';
import { runGuestFuzz } from './CanaryFuzzer.ts';
import { withPatch } from '../testkit/Patch.ts';

// The short version of `npm run fuzz -- --only guest` (SECURITY.md), and fault injection that
// re-creates historical bugs (B1, B5, B8) and an isolation break: the fuzzer must catch each.

describe('guest fuzzer with canaries, short run', () => {
  it('1200 random register programs and GGTT writes: no dma-buf reaches a canary page', () => {
    const r = runGuestFuzz({ seed: 0xc0ffee, cases: 1200 });
    assert.deepEqual(r.failures, []);
    assert.equal(r.cases, 1200);
    assert.equal(r.oopses, 0);
    assert.equal(r.leaks, 0);
    for (const key of ['gvt planes', 'gvt rejected EINVAL', 'gvt rejected EFAULT', 'gvt empty', 'bochs planes',
      'bochs empty', 'exports', 'mappings checked', 'mappings refused (GGTT hole)']) {
      assert.ok((r.stats[key] ?? 0) > 0, `never saw '${key}'`);
    }
  });
});

describe('guest fuzzer, fault injection', () => {
  it('B1 re-introduced (each end of the range checked on its own) is caught', () => {
    withPatch(Ggtt.prototype, 'validateRange', () => function (this: Ggtt, vmId: number, addr: number, size: number) {
      return this.isValidGma(vmId, addr) && this.isValidGma(vmId, addr + size - 1);
    } as never, () => {
      const r = runGuestFuzz({ seed: 2, cases: 3000 });
      assert.match(r.failures[0]?.message ?? '', /not inside one of gvt-\w's GGTT slices \(B1\)/);
    });
  });

  it('B5 re-introduced (pages from QUERY time, no walk of the GGTT at map time) is caught', () => {
    withPatch(DmabufFile.prototype, 'mmap', (orig) => function (this: DmabufFile, ...a: never[]) {
      const save = this.object.resolvePages;
      this.object.resolvePages = undefined;
      try { return orig.apply(this, a); } finally { this.object.resolvePages = save; }
    }, () => {
      const r = runGuestFuzz({ seed: 4, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /GGTT names|unmapped page/);
    });
  });

  it('B8 re-introduced (a writable mapping of the framebuffer) is caught', () => {
    withPatch(DmabufFile.prototype, 'mmap', (orig) => function (this: DmabufFile, offset: number, length: number, _prot: number) {
      return orig.call(this, offset as never, length as never, 1 as never);
    } as never, () => {
      const r = runGuestFuzz({ seed: 5, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /B8/);
    });
  });

  it('a mapping that shows another VM\'s memory is caught by the canary check', () => {
    withPatch(DmabufFile.prototype, 'mmap', (orig) => function (this: DmabufFile, ...a: never[]) {
      const m = orig.apply(this, a) as Mapping | number;
      if (typeof m === 'number') return m;
      const foreign = new Uint8Array(new SharedArrayBuffer(m.length + PAGE_SIZE), 0, m.length);
      return { ...m, chunks: [foreign], chunkOffsets: [0] };
    }, () => {
      const r = runGuestFuzz({ seed: 6, cases: 2000 });
      assert.match(r.failures[0]?.message ?? '', /maps foreign memory/);
    });
  });

  it('a rejected plane with an errno the spec does not list is caught', () => {
    withPatch(GvtMdev.prototype, '_queryPlane', (orig) => function (this: GvtMdev, ...a: never[]) {
      const r = orig.apply(this, a) as number;
      return r === -Errno.EFAULT ? -Errno.ENOMEM : r;
    }, () => {
      const r = runGuestFuzz({ seed: 7, cases: 3000 });
      assert.match(r.failures[0]?.message ?? '', /rejected with -ENOMEM/);
    });
  });
});
