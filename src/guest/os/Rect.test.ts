import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addDamage, MAX_DAMAGE_RECTS, rect, union } from './Rect.ts';

test('damage lists merge overlaps and collapse when long', () => {
  let d = addDamage([], rect(0, 0, 10, 10));
  d = addDamage(d, rect(100, 100, 5, 5));
  assert.equal(d.length, 2);
  d = addDamage(d, rect(5, 5, 100, 2)); // bridges both
  assert.deepEqual(d, [rect(100, 100, 5, 5), union(rect(0, 0, 10, 10), rect(5, 5, 100, 2))]);
  assert.deepEqual(d[1], rect(0, 0, 105, 10));
  d = addDamage(d, undefined);
  assert.equal(d.length, 2);
  let many: ReturnType<typeof addDamage> = [];
  for (let i = 0; i <= MAX_DAMAGE_RECTS; i++) many = addDamage(many, rect(i * 20, 0, 5, 5));
  assert.deepEqual(many, [rect(0, 0, MAX_DAMAGE_RECTS * 20 + 5, 5)]);
});
