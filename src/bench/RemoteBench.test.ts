import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { remoteSection } from './sections/RemoteSection.ts';
import { tinyContext } from './sections/testing.ts';
import type { RemoteResult } from './RemoteBench.ts';

describe('remote bench (tiny, viewer in a child process)', () => {
  it('counts the exact bytes each server puts on the wire', async () => {
    const out = await remoteSection.run(tinyContext());
    const j = out.json.remote as {
      flipBytes: number; keystrokeBytes: number; animationBytesPerSec: number; fullFrameBaselineBytesPerSec: number;
      details: RemoteResult;
    };
    // A flip between synced buffers is one SCANOUT: 17 payload bytes (id, flip number, vblank time) in a 2-byte WebSocket header.
    assert.equal(j.flipBytes, 19);
    // The baseline sends a BUFFER_DATA of the whole 256×64 frame (9 + 65536 bytes, 10-byte header).
    assert.equal(j.details.flip.baselineBytes, 9 + 256 * 4 * 64 + 10);
    assert.equal(j.details.keystroke.baselineBytes, 9 + 256 * 4 * 64 + 10);
    // A glyph cell covers 16 pixel rows = 16 KiB (4 blocks): one BUFFER_DATA plus a FRAME.
    assert.ok(j.keystrokeBytes > 16 * 1024 && j.keystrokeBytes < 16 * 1024 + 100, String(j.keystrokeBytes));
    // Animation: every block of a 128×64 frame changes; per frame ≈ the whole frame either way.
    assert.equal(j.fullFrameBaselineBytesPerSec, (9 + 128 * 4 * 64 + 4) * 60);
    assert.ok(j.animationBytesPerSec >= 128 * 4 * 64 * 60);
    assert.ok(j.details.flip.oursCpuUs > 0 && j.details.flip.baselineCpuUs > 0);
    assert.equal(out.summary[0]!.met, true);
    // The animation CPU target compares the two servers' own figures (speed is not asserted here).
    const anim = out.summary[1]!;
    assert.match(anim.metric, /^Full-screen animation server CPU per 128×64 frame$/);
    assert.equal(anim.met, j.details.animation.oursCpuUs <= j.details.animation.baselineCpuUs);
  });
});
