import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BROWSER_PARTS, type BrowserFigures } from '../BrowserFigures.ts';
import { browserOutput } from './BrowserSection.ts';

function figures(policy: 'dirty' | 'event', p50: number, frames: 'vsync' | 'unthrottled' = 'vsync'): BrowserFigures {
  const parts = Object.fromEntries(BROWSER_PARTS.map((p, i) => [p, { p50: i + 1, p99: 2 * (i + 1) }])) as BrowserFigures['parts'];
  return {
    policy, frames, renderer: 'webgl', width: 1024, height: 735, presented: 90, dropped: 10,
    flipToPresent: { p50, p99: p50 * 2 }, parts, clockRttMs: 0.4, framesPerSec: 60, guestFlipsPerSec: 60,
    receivedMBps: 4, backlogMB: 2,
  };
}

describe('browser section output (figures as the Chromium run returns them)', () => {
  const s = { reps: 1, windowMs: 1000, viewport: { width: 1024, height: 768 } };

  it('JSON has browser.flipToPresent.p50 (the dirty policy) and every run; the summary row holds the goal', () => {
    const out = browserOutput({ chromium: '/usr/bin/chromium 1.0', figures: [figures('dirty', 28), figures('event', 31),
      figures('dirty', 20, 'unthrottled')], intakeMBps: 40 }, s);
    const b = out.json.browser as { flipToPresent: { p50: number; policy: string }; runs: BrowserFigures[] };
    assert.deepEqual([b.flipToPresent.p50, b.flipToPresent.policy, b.runs.length], [28, 'dirty', 3]);
    assert.equal(out.summary.length, 1);
    assert.equal(out.summary[0]!.met, false, '28 ms misses the 5 ms goal');
    // 4 MB/s over one 1 s window with 90 presented: 0.044 MB each.
    assert.match(out.summary[0]!.measured, /^28\.00 ms \(host \+ socket 1\.00 ms with 2\.00 MB queued; 0\.04 MB per presented flip at a bare intake of 40\.00 MB\/s; viewer's work 17\.00 ms; event 31\.00 ms\)$/);
    assert.match(out.text, /Each presented flip came with 0\.04 MB of pixels; at this Chromium's bare intake \(40\.00 MB\/s\) that alone takes 1\.11 ms/);
    assert.equal((out.json.browser as { intakeMBps: number }).intakeMBps, 40);
    // Every part is in the report, per run, and each run's note gives its queue from its own numbers.
    for (const label of ['texture upload', 'render done → next animation frame (present)']) {
      assert.ok(out.markdown.includes(label), label);
    }
    assert.match(out.text, /dirty \(frame rate unlimited\): p50 20\.00 ms/);
    assert.match(out.text, /2\.00 MB sent but not yet received .* \(500 ms at that rate\)/);
    const met = browserOutput({ chromium: 'c', figures: [figures('dirty', 4.5)], intakeMBps: 40 }, s);
    assert.equal(met.summary[0]!.met, true);
  });
});
