/**
 * The bench's browser measurement against the real lab in Debian's Chromium (tiny sizes): the
 * page's flip figures are cleared per window and read back, with every part of the total.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBrowserBench } from '../../src/bench/BrowserBench.ts';
import { BROWSER_PARTS, BROWSER_SIZES } from '../../src/bench/BrowserFigures.ts';
import { FLIP_PARTS } from '../../src/web/FlipLatency.ts';

describe('browser bench (tiny, the lab in Chromium)', () => {
  it('names the parts the viewer measures (the bench cannot import the viewer: layers)', () => {
    assert.deepEqual(BROWSER_PARTS, FLIP_PARTS);
  });

  it('measures flip → present and its parts for the dirty policy', async () => {
    const log: string[] = [];
    const r = await runBrowserBench({ ...BROWSER_SIZES.tiny, policies: ['dirty'], log: (l) => log.push(l) });
    assert.equal(r.figures.length, 1);
    const f = r.figures[0]!;
    assert.equal(f.renderer, 'webgl', 'SwiftShader WebGL2');
    assert.ok(f.presented > 0, `flips presented: ${JSON.stringify(f)}`);
    assert.ok(f.flipToPresent.p50 > 0 && f.flipToPresent.p99 >= f.flipToPresent.p50, `p50 ${f.flipToPresent.p50} p99 ${f.flipToPresent.p99}`);
    for (const p of BROWSER_PARTS) {
      assert.ok(Number.isFinite(f.parts[p].p50) && f.parts[p].p50 >= 0, `${p}: ${f.parts[p].p50}`);
    }
    // The parts of a flip add up to it (medians of parts need not add up to the median exactly).
    assert.ok(f.parts.toPresent.p50 > 0 && f.parts.wire.p50 > 0, 'a present waits for its frame; a message for the host');
    assert.ok(f.guestFlipsPerSec > 0 && f.receivedMBps > 0 && f.framesPerSec > 0, JSON.stringify(f));
    assert.match(r.chromium, /^\/usr\/bin\/chromium \d/);
    assert.ok(r.intakeMBps > 0 && Number.isFinite(r.intakeMBps), `bare intake ${r.intakeMBps} MB/s`);
  });
});
