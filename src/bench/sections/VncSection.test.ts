import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActivityFigures, VncBenchResult } from '../VncFigures.ts';
import { vncOutput } from './VncSection.ts';

function fig(server: 'qemu' | 'ours', encoding: 'ZRLE' | 'Raw', activity: ActivityFigures['activity'], bytes: number,
  updates: number): ActivityFigures {
  return {
    server, encoding, activity, events: activity === 'type' ? 40 : 1, updates, bytes,
    latencyMs: { p50: 10, p99: 20, samples: 40 }, keyToDbusUpdateMs: { p50: 9, p99: 15 }, ourProcessCpuMs: 100, qemuCpuMs: 200,
  };
}

function result(rawScrollOurs: number): VncBenchResult {
  const figures: ActivityFigures[] = [];
  for (const enc of ['ZRLE', 'Raw'] as const) {
    figures.push(fig('qemu', enc, 'type', 40 * 53, 40), fig('qemu', enc, 'scroll', 600_000, 3), fig('qemu', enc, 'clear', 12_000, 1));
    figures.push(fig('ours', enc, 'type', 40 * 39, 40), fig('ours', enc, 'scroll', enc === 'Raw' ? rawScrollOurs : 3_000, 18),
      fig('ours', enc, 'clear', 100, 3));
  }
  return { width: 720, height: 400, keys: 40, scrollLines: 400, figures, gateway: [], shadowBytesCopied: 0, shadowBytes: 1 };
}

describe('vnc section output (figures as the QEMU run returns them)', () => {
  it('bytes met: the summary lists typing only, nothing to explain', () => {
    const out = vncOutput(result(500_000));
    const bytes = out.summary.find((r) => r.metric.startsWith('VNC bytes'))!;
    assert.equal(bytes.met, true);
    assert.doesNotMatch(bytes.measured, /more:/);
    assert.doesNotMatch(out.markdown, /Where ours sent more/);
  });

  it('a missed byte goal names the activity, its bytes and update counts, and says why', () => {
    const out = vncOutput(result(1_130_652));
    const bytes = out.summary.find((r) => r.metric.startsWith('VNC bytes'))!;
    assert.equal(bytes.met, false);
    assert.match(bytes.measured, /; more: Raw scrolling console: 1\D?130\D?652 vs 600\D?000 B in 18 vs 3 updates$/);
    assert.match(out.markdown, /Where ours sent more \(Raw scrolling console: .* in 18 vs 3 updates\): our server answers each incremental request/);
  });
});
