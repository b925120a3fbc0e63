import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMemoryBench } from './MemoryBench.ts';
import { memorySection } from './sections/MemorySection.ts';
import { tinyContext } from './sections/testing.ts';

describe('memory bench (tiny)', () => {
  it('samples the heap after GC over flips and vGPU cycles and leaves nothing open', () => {
    const r = runMemoryBench({ flips: 1200, flipSamples: 4, cycles: 30, cycleSamples: 3 });
    assert.equal(r.gcForced, true);
    assert.deepEqual(r.flipSamples.map((s) => s.at), [0, 300, 600, 900, 1200]);
    assert.deepEqual(r.cycleSamples.map((s) => s.at), [0, 10, 20, 30]);
    assert.equal(r.leakedFds, 0);
    assert.equal(r.leakedVgpus, 0);
    assert.ok(Number.isFinite(r.heapSlopeBytesPerKFlips) && Number.isFinite(r.heapSlopeBytesPerKCycles));
    assert.ok(r.rssMB > 0);
  });

  it('the section reports the JSON keys of the issue', async () => {
    const out = await memorySection.run(tinyContext());
    const m = out.json.memory as { heapSlopeBytesPerKFlips: number; rssMB: number; flips: number };
    assert.equal(m.flips, 2000);
    assert.ok(Number.isFinite(m.heapSlopeBytesPerKFlips) && m.rssMB > 0);
    assert.deepEqual(Object.keys(out.charts).sort(), ['memory-cycles.svg', 'memory-flips.svg']);
    assert.equal(out.summary.length, 1);
  });
});
