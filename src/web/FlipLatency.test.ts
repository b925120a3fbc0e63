import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClockSync } from './ClockSync.ts';
import { FLIP_PARTS, FlipLatency } from './FlipLatency.ts';

test('flip → present: percentiles of presented flips; superseded and skipped flips are dropped', () => {
  const f = new FlipLatency();
  assert.equal(f.quantile(0.5), undefined);
  for (let i = 1; i <= 100; i++) {
    f.flip(i, 1000 * i, 1000 * i + 0.05);
    assert.equal(f.drawn(), true);
    f.present(1000 * i + i / 10); // 0.1 .. 10 ms
  }
  assert.equal(f.presented, 100);
  assert.equal(f.dropped, 0);
  assert.ok(Math.abs(f.wireQuantile(0.5)! - 0.05) < 1e-6, 'vblank → arrival share');
  assert.ok(Math.abs(f.quantile(0.5)! - 5) < 1e-6, String(f.quantile(0.5)));
  assert.ok(Math.abs(f.quantile(0.99)! - 9.9) < 1e-6, String(f.quantile(0.99)));
  f.flip(101, 200_000);
  f.flip(102, 200_016); // 101 never presented
  f.flip(105, 200_032); // 102 superseded too; 103 and 104 never reached this viewer
  f.drawn();
  f.flip(106, 200_048); // arrives after 105 was drawn: 105 is not dropped
  f.present(200_040);
  assert.equal(f.dropped, 4);
  assert.equal(f.presented, 101);
  f.present(300_000); // nothing drawn: no sample
  assert.equal(f.presented, 101);
  f.drawn();
  f.present(300_000);
  assert.equal(f.presented, 102);
  f.flip(107, undefined); // unknown vblank time: presented but not timed
  f.drawn();
  f.present(300_001);
  assert.equal(f.presented, 102);
  assert.equal(f.dropped, 4);
  f.reset();
  f.flip(1, 1); // a new connection restarts the numbering: no gap counted
  assert.equal(f.dropped, 4);
});

test('flip → present parts: each stage of a flip is timed and they add up to the total', () => {
  const f = new FlipLatency();
  // vblank 100 → received 100.4 → handled 100.5 → render 108..110 (upload 1, convert 0.6, draw 0.3)
  // → next animation frame 124.
  f.flip(1, 100, 100.4, 100.5);
  assert.equal(f.drawn(108, 110, { upload: 1, decode: 0.6, present: 0.3 }), true);
  f.present(124);
  const p = (name: (typeof FLIP_PARTS)[number]): number => f.partQuantile(name, 0.5)!;
  assert.equal(f.quantile(0.5), 24);
  assert.ok(Math.abs(p('wire') - 0.4) < 1e-9 && Math.abs(p('message') - 0.1) < 1e-9, `${p('wire')} ${p('message')}`);
  assert.equal(p('waitFrame'), 7.5);
  assert.deepEqual([p('upload'), p('convert'), p('draw')], [1, 0.6, 0.3]);
  assert.equal(p('toPresent'), 14);
  const sum = p('wire') + p('message') + p('waitFrame') + (110 - 108) + p('toPresent');
  assert.ok(Math.abs(sum - f.quantile(0.5)!) < 1e-9, `parts add up: ${sum}`);
  // clear() starts a new measurement: no samples, no counts, the numbering goes on.
  f.flip(3, 200, 200.1, 200.2);
  f.clear();
  assert.deepEqual([f.samples, f.presented, f.dropped, f.partQuantile('wire', 0.5)], [0, 0, 0, undefined]);
  f.drawn(201, 202);
  f.present(210);
  assert.deepEqual([f.samples, f.presented, f.partQuantile('upload', 0.5)], [1, 1, undefined]);
});

test('clock offset: the sample with the shortest round trip wins', () => {
  let now = 1000;
  const c = new ClockSync(() => now);
  assert.equal(c.toLocal(5000), undefined);
  const p1 = c.due()!;
  now += 10; // 10 ms round trip, host 500 ms ahead, answered at the midpoint
  assert.equal(c.pong(p1.clientMs, p1.clientMs + 5 + 500), true);
  assert.equal(c.offset, 500);
  const p2 = c.due()!;
  now += 2; // a better sample: host 499 ms ahead
  c.pong(p2.clientMs, p2.clientMs + 1 + 499);
  assert.equal(c.offset, 499);
  assert.equal(c.rtt, 2);
  const p3 = c.due()!;
  now += 40; // a slow one does not move the estimate
  c.pong(p3.clientMs, p3.clientMs + 35 + 499);
  assert.equal(c.offset, 499);
  assert.equal(c.toLocal(10_499), 10_000);
  assert.equal(c.toLocal(0), undefined, '0 means unknown');
  for (let i = 0; i < 5; i++) assert.ok(c.due(), 'the burst continues');
  assert.equal(c.due(), undefined, 'after the burst, one probe per period');
  now += 10_000;
  assert.ok(c.due());
  c.reset();
  assert.equal(c.offset, undefined);
});
