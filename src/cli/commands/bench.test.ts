import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { register, runBench } from './bench.ts';

describe('vgpu-display bench', () => {
  it('runs every section and merges their JSON keys', () => {
    const r = runBench({ quick: true, flips: 120 });
    const j = r.json as { flipStorm: { flips: number; ours: { gets: number; bytesCopied: number } }; latencyMs: Record<string, { p50: number; p99: number }> };
    assert.equal(j.flipStorm.flips, 120);
    assert.equal(j.flipStorm.ours.gets, 2);
    assert.equal(j.flipStorm.ours.bytesCopied, 0);
    assert.deepEqual(Object.keys(j.latencyMs), ['timer30', 'timer16', 'event', 'dirty']);
    assert.match(r.text, /flip storm: 120 flips/);
  });

  it('rejects a bad --flips', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    register(program);
    await assert.rejects(program.parseAsync(['node', 'vgpu-display', 'bench', '--flips', '0']), CommanderError);
  });
});
