import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rect } from '../display/DisplayBuffer.ts';
import { DirtyMap, joinBands } from './DirtyMap.ts';

const WHOLE = (m: DirtyMap): Rect => ({ x: 0, y: 0, width: m.width, height: m.height });
const covers = (rs: readonly Rect[], x: number, y: number): boolean =>
  rs.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);

describe('DirtyMap', () => {
  it('a 9×16 cell inside a row of the screen comes back as exactly that rectangle, then clean', () => {
    const m = new DirtyMap(720, 400);
    m.markRect(9 * 13, 16 * 5, 9, 16);
    assert.deepEqual(m.take(WHOLE(m), []), [{ x: 117, y: 80, width: 9, height: 16 }]);
    assert.ok(m.empty, 'taking clears');
    assert.deepEqual(m.take(WHOLE(m), []), []);
  });

  it('every marked pixel is in a rectangle; far-apart changes on the same rows stay separate', () => {
    const m = new DirtyMap(640, 64);
    const marked: Array<[number, number]> = [];
    for (let y = 3; y < 40; y += 2) {
      for (const x of [5, 6, 7, 31, 32, 33, 300, 600 + (y % 7)]) {
        m.markSpan(y, x, x + 1);
        marked.push([x, y]);
      }
    }
    const rs = m.take(WHOLE(m), []);
    for (const [x, y] of marked) assert.ok(covers(rs, x, y), `pixel ${x},${y} in ${JSON.stringify(rs)}`);
    const area = rs.reduce((s, r) => s + r.width * r.height, 0);
    assert.ok(area < 640 * 37 / 4, `far-apart runs are not joined into full rows: ${area} pixels`);
  });

  it('take() leaves what lies outside the area dirty', () => {
    const m = new DirtyMap(100, 100);
    m.markRect(0, 0, 100, 100);
    const rs = m.take({ x: 10, y: 20, width: 30, height: 40 }, []);
    assert.deepEqual(rs, [{ x: 10, y: 20, width: 30, height: 40 }]);
    assert.equal(m.dirty(10, 20), false);
    assert.equal(m.dirty(9, 20), true);
    assert.equal(m.dirty(10, 60), true);
    assert.equal(m.empty, false);
  });

  it('moveRows carries the dirty bits with the rows and replaces the destination\'s', () => {
    const m = new DirtyMap(64, 64);
    m.markSpan(40, 3, 5);
    m.markSpan(50, 7, 8);
    m.markSpan(10, 0, 64); // destination row 10 was dirty: after the move it holds row 26's bits
    m.moveRows(16, 0, 48); // rows 16..63 → 0..47
    assert.equal(m.dirty(3, 24), true);
    assert.equal(m.dirty(7, 34), true);
    assert.equal(m.dirty(7, 50), true, 'source rows outside the destination keep their bits');
    assert.equal(m.dirty(3, 40), false, 'row 40 now holds row 56\'s (clean) bits');
    assert.equal(m.dirty(0, 10), false);
  });

  it('past 256 rectangles the rest goes as row bands, still covering every marked pixel', () => {
    const m = new DirtyMap(1024, 600);
    const marked: Array<[number, number]> = [];
    for (let y = 0; y < 600; y += 2) for (let x = 0; x < 1024; x += 100) { m.markSpan(y, x, x + 1); marked.push([x, y]); }
    const rs = m.take(WHOLE(m), []);
    assert.ok(rs.length <= 256 + 600, `${rs.length} rectangles`);
    for (const [x, y] of marked) assert.ok(covers(rs, x, y), `pixel ${x},${y}`);
    assert.ok(m.empty, 'all taken');
  });

  it('joinBands: rectangles within the gap become one bounding box per band', () => {
    const rs: Rect[] = [
      { x: 300, y: 40, width: 9, height: 16 }, { x: 10, y: 0, width: 9, height: 16 },
      { x: 100, y: 20, width: 5, height: 5 }, { x: 0, y: 200, width: 4, height: 4 },
    ];
    joinBands(rs, 16);
    assert.deepEqual(rs, [{ x: 10, y: 0, width: 299, height: 56 }, { x: 0, y: 200, width: 4, height: 4 }]);
  });
});
