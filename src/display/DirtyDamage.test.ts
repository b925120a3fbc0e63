import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirtyLog } from '../gpu/DirtyLog.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../kms/Modifier.ts';
import { DirtyDamage } from './DirtyDamage.ts';
import { fullRect, type DisplayBuffer } from './DisplayBuffer.ts';
import type { Frame } from './FrameSource.ts';

/** A 1024×rows XRGB8888 linear frame (one 4 KiB page per row) on the given guest pages. */
function frame(id: number, guestPages: number[]): Frame {
  const height = guestPages.length;
  const size = 4096 * height;
  const buffer: DisplayBuffer = {
    id, fd: -1, kind: 'dmabuf', planeType: 1, drmFormat: DRM_FORMAT.XRGB8888, modifier: DRM_FORMAT_MOD.LINEAR,
    width: 1024, height, stride: 4096, size,
    mapping: { length: size, chunks: [new Uint8Array(size)], chunkOffsets: [0], unmap: () => {} },
  };
  return { buffer, full: [fullRect(1024, height)], pages: Uint32Array.from(guestPages) };
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('DirtyDamage', () => {
  it('a flip reports the pages written into the new buffer while it was off screen, and only those', () => {
    const log = new DirtyLog(64);
    const d = new DirtyDamage(log);
    const a = frame(1, range(10, 8));
    const b = frame(2, range(30, 8));
    d.setup(a);
    log.markPages(32, 2); // b's pages 2 and 3, drawn while a shows
    log.markPages(12, 1); // a's page 2
    assert.deepEqual(d.scan(), [{ x: 0, y: 2, width: 1024, height: 1 }]);
    assert.deepEqual(d.written, [2]);
    assert.deepEqual(d.setup(b), [2, 3]);
    assert.deepEqual(d.setup(a), [], 'nothing was written into a meanwhile');
  });

  it('a guest page shared by two buffers, written while one shows, is reported for the other at its flip', () => {
    const log = new DirtyLog(64);
    const d = new DirtyDamage(log);
    const a = frame(1, range(10, 8));
    const b = frame(2, range(14, 8)); // b's pages 0..3 are a's pages 4..7
    d.setup(b);
    d.setup(a);
    log.markPages(15, 1); // a's page 5 = b's page 1
    d.scan();
    assert.deepEqual(d.written, [5]);
    assert.equal(log.isDirty(15), false, 'fetched through a');
    assert.deepEqual(d.setup(b), [1], 'carried over to b');
    // Once b is released nothing is carried for it any more.
    d.setup(a);
    d.forget(b.buffer);
    log.markPages(15, 1);
    d.scan();
    assert.deepEqual(d.written, [5]);
  });

  it('a frame without a page map has no written pages: its damage is the whole frame', () => {
    const d = new DirtyDamage(new DirtyLog(64));
    const f = { ...frame(1, range(0, 4)), pages: undefined };
    assert.equal(d.setup(f), undefined);
    assert.equal(d.written, undefined);
    assert.deepEqual(d.scan(), f.full);
  });
});
