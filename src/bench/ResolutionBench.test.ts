import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../base/Clock.ts';
import { GvtGuest } from '../testkit/GvtGuest.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { ReplaySys } from './ReplaySys.ts';
import { runResolutionBench, timeLoops } from './ResolutionBench.ts';

describe('resolution sweep (tiny)', () => {
  it('measures every path per mode; the region path copies stride × height', () => {
    const r = runResolutionBench({ resolutions: [[64, 32], [100, 20]], reps: 2, targetMs: 0.2 });
    assert.deepEqual(r.rows.map((x) => [x.width, x.height, x.frameBytes]), [[64, 32, 64 * 4 * 32], [100, 20, 400 * 20]]);
    for (const x of r.rows) {
      // CPU time over a 0.2 ms slice can read 0 on a loaded machine: figures must be real numbers,
      // not positive (speed is the bench's business, not the test's).
      const figures = [x.dmabufUsPerRefresh, x.regionUsPerRefresh, x.memcpyUs, x.queryUs, x.ratio.median];
      assert.ok(figures.every((v) => Number.isFinite(v) && v >= 0), figures.join(' '));
      assert.equal(x.spread.dmabufUsPerRefresh.runs, 2);
    }
  });

  it('timeLoops runs every function, interleaved, at least min times', () => {
    const calls: string[] = [];
    const [a, b] = timeLoops([() => calls.push('a'), () => calls.push('b')], 0, 3, 5);
    assert.ok(a!.iterations >= 5 && b!.iterations >= 5);
    assert.equal(calls.filter((c) => c === 'a').length, a!.iterations);
    // Three slices each: a's first slice ran before b's.
    assert.equal(calls[0], 'a');
    assert.ok(calls.lastIndexOf('a') > calls.indexOf('b'));
  });

  it('ReplaySys answers repeated QUERYs from its recording, so a client still sees its plane', () => {
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('i915-GVTg_V5_8', { ramBytes: 1 << 20 });
    const guest = new GvtGuest(vgpu);
    const fd = host.openDevice(vgpu.uuid);
    const buf = guest.alloc({ width: 64, height: 32 });
    guest.showPrimary(buf);
    guest.vblank();
    const replay = new ReplaySys(host.kernel);
    const d = new VfioDisplay(replay, fd, { clock: new VirtualClock(), policy: 'timer' });
    d.start();
    for (let i = 0; i < 5; i++) d.refresh();
    assert.equal(d.mode, 'dmabuf');
    assert.equal(d.stats.gets, 1);
    assert.equal(d.stats.scanouts, 1);
    // Probe + the first refresh's two queries were real; the next five refreshes replayed both.
    assert.equal(replay.replayed, 10);
    d.dispose();
  });
});
