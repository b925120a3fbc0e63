import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { BENCH_SECTIONS, defaultReport, register, runBench } from './bench.ts';
import { writeReport } from '../../bench/BenchRun.ts';

describe('vgpu-display bench', () => {
  it('runs the chosen sections and merges their JSON keys (the display-client keys stay)', async () => {
    const r = await runBench({ tiny: true, flips: 120, only: ['storm', 'resolution'] });
    const j = r.json as {
      flipStorm: { flips: number; ours: { gets: number; bytesCopied: number } };
      resolution: Array<{ width: number; height: number; dmabufUsPerRefresh: number; regionUsPerRefresh: number; memcpyUs: number }>;
      meta: { mode: string };
    };
    assert.equal(j.flipStorm.flips, 120);
    assert.equal(j.flipStorm.ours.gets, 2);
    assert.equal(j.flipStorm.ours.bytesCopied, 0);
    assert.deepEqual(j.resolution.map((x) => [x.width, x.height]), [[64, 32], [128, 64]]);
    for (const x of j.resolution) assert.ok(x.dmabufUsPerRefresh > 0 && x.regionUsPerRefresh > 0 && x.memcpyUs > 0);
    assert.equal(j.meta.mode, 'tiny');
    assert.match(r.text, /flip storm: 120 flips/);
    assert.match(r.text, /summary \(tiny/);
    assert.deepEqual(r.summary.map((s) => s.met), [true, true, undefined], 'no 4K point in a tiny run');
  });

  it('writes a report with its charts, prefixed outside full runs', async () => {
    const r = await runBench({ tiny: true, flips: 60, only: ['storm'] });
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    try {
      const files = writeReport(r, join(dir, 'REPORT.md'));
      assert.deepEqual(readdirSync(join(dir, 'charts')).sort(), ['tiny-storm-cpu.svg', 'tiny-storm-gets.svg']);
      assert.equal(files.length, 3);
      const md = readFileSync(join(dir, 'REPORT.md'), 'utf8');
      assert.match(md, /^# vgpu-display benchmark report \(tiny\)/);
      assert.match(md, /\(charts\/tiny-storm-gets\.svg\)/);
      assert.match(md, /\| GETs per 60 double-buffered flips \| 2 \| 2 \| yes \|/);
      assert.match(readFileSync(join(dir, 'charts', 'tiny-storm-gets.svg'), 'utf8'), /^<svg /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists eight sections and reports to bench/REPORT.md (full) or REPORT-quick.md', () => {
    assert.deepEqual(BENCH_SECTIONS.map((s) => s.name), ['storm', 'resolution', 'latency', 'browser', 'density', 'remote', 'memory', 'vnc']);
    assert.equal(defaultReport(false), 'bench/REPORT.md');
    assert.equal(defaultReport(true), 'bench/REPORT-quick.md');
  });

  it('rejects a bad --flips and an unknown section', async () => {
    for (const argv of [['--flips', '0'], ['--only', 'storm,nope']]) {
      const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
      register(program);
      await assert.rejects(program.parseAsync(['node', 'vgpu-display', 'bench', ...argv]), CommanderError);
    }
  });
});
