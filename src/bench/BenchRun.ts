import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join } from 'node:path';
import type { BenchContext, BenchSection, SectionOutput, SummaryRow } from './BenchSection.ts';
import { browserSection } from './sections/BrowserSection.ts';
import { findings } from './Findings.ts';
import { densitySection } from './sections/DensitySection.ts';
import { flipStormSection } from './sections/FlipStormSection.ts';
import { latencySection } from './sections/LatencySection.ts';
import { memorySection } from './sections/MemorySection.ts';
import { remoteSection } from './sections/RemoteSection.ts';
import { resolutionSection } from './sections/ResolutionSection.ts';
import { vncSection } from './sections/VncSection.ts';
import { SIZES, type BenchMode } from './Sizes.ts';
import { mdTable, textTable } from './Table.ts';

/** The benchmark's parts, in the order they run. */
export const BENCH_SECTIONS: readonly BenchSection[] = [
  flipStormSection, resolutionSection, latencySection, browserSection, densitySection, remoteSection, memorySection,
  vncSection,
];

export interface BenchRunOptions {
  readonly mode: BenchMode;
  /** Flip storm flips (overrides the mode's count). */
  readonly flips?: number;
  /** Run only these sections (names as in BENCH_SECTIONS). */
  readonly only?: readonly string[];
  readonly log?: (line: string) => void;
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGB: number;
  readonly node: string;
  readonly os: string;
  /** 1-minute load average when the run started and when it ended. */
  readonly loadStart: number;
  readonly loadEnd: number;
}

export interface BenchRunResult {
  readonly json: Record<string, unknown>;
  /** Terminal output: every section's block, then the summary table. */
  readonly text: string;
  readonly summary: readonly SummaryRow[];
  readonly sections: ReadonlyArray<{ readonly section: BenchSection; readonly output: SectionOutput }>;
  readonly machine: MachineInfo;
  readonly date: string;
  readonly mode: BenchMode;
  readonly seconds: number;
}

export function machineInfo(loadStart: number): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, memoryGB: Math.round(totalmem() / 1e8) / 10,
    node: process.version, os: `${type()} ${release()}`, loadStart, loadEnd: loadavg()[0]!,
  };
}

/** Run the sections in order and gather their outputs. */
export async function runBenchmarks(o: BenchRunOptions): Promise<BenchRunResult> {
  const log = o.log ?? (() => {});
  const unknown = (o.only ?? []).filter((n) => !BENCH_SECTIONS.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new RangeError(`unknown section(s) ${unknown.join(', ')} (have: ${BENCH_SECTIONS.map((s) => s.name).join(', ')})`);
  }
  const picked = BENCH_SECTIONS.filter((s) => o.only === undefined || o.only.length === 0 || o.only.includes(s.name));
  const ctx: BenchContext = { mode: o.mode, sizes: SIZES[o.mode], ...(o.flips !== undefined ? { flips: o.flips } : {}), log };
  const loadStart = loadavg()[0]!;
  const t0 = performance.now();
  const date = new Date().toISOString();
  const sections: Array<{ section: BenchSection; output: SectionOutput }> = [];
  for (const section of picked) sections.push({ section, output: await section.run(ctx) });
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  const machine = machineInfo(loadStart);
  const summary = sections.flatMap((s) => s.output.summary);
  const json: Record<string, unknown> = {};
  for (const s of sections) Object.assign(json, s.output.json);
  json.meta = { date, mode: o.mode, seconds, machine, summary };
  const text = [
    ...sections.map((s) => s.output.text),
    `summary (${o.mode}, ${seconds} s, ${machine.cores} cores, Node ${machine.node.replace(/^v/, '')}):`,
    textTable(['metric', 'target', 'measured', 'met'], summary.map((r) => [r.metric, r.target, r.measured, metMark(r.met)])),
  ].join('\n\n');
  return { json, text, summary, sections, machine, date, mode: o.mode, seconds };
}

export function metMark(met: boolean | undefined): string {
  return met === undefined ? 'n/a' : met ? 'yes' : 'MISSED';
}

/** The summary as a Markdown table (the README's). */
export function summaryMarkdown(r: BenchRunResult): string {
  const m = r.machine;
  return [
    `Measured ${r.date.slice(0, 10)} on ${m.cores} cores (${m.cpu}), ${m.memoryGB} GB, Node ` +
      `${m.node.replace(/^v/, '')}, ${m.os}; \`npm run bench\` (${r.mode}, ${r.seconds} s; load average ` +
      `${m.loadStart.toFixed(1)} → ${m.loadEnd.toFixed(1)}).`,
    '',
    mdTable(['metric', 'target', 'measured', 'met'], r.summary.map((x) => [x.metric, x.target, x.measured,
      x.met === undefined ? 'not measured' : x.met ? 'yes' : '**no**'])),
  ].join('\n');
}

/**
 * Write the report: `file` (Markdown) and its charts in `<dir>/charts/` (full runs) or with a
 * `<mode>-` prefix for other modes, so a quick run never overwrites the full report's charts.
 */
export function writeReport(r: BenchRunResult, file: string): string[] {
  const dir = dirname(file);
  const chartDir = join(dir, 'charts');
  mkdirSync(chartDir, { recursive: true });
  const prefix = r.mode === 'full' ? '' : `${r.mode}-`;
  const written: string[] = [];
  const parts: string[] = [
    `# vgpu-display benchmark report${r.mode === 'full' ? '' : ` (${r.mode})`}`,
    '',
    'Generated by `npm run bench` (`vgpu-display bench`); every table and chart below comes from one run. ' +
      'Do not edit by hand.',
    '',
    '## Summary',
    '',
    summaryMarkdown(r),
  ];
  const notes = findings(r.json, r.machine.loadStart, r.machine.loadEnd, r.machine.cores);
  if (notes) parts.push('', notes);
  for (const { section, output } of r.sections) {
    let md = output.markdown;
    for (const [name, svg] of Object.entries(output.charts)) {
      const path = join(chartDir, prefix + name);
      writeFileSync(path, svg);
      written.push(path);
      md = md.split(`charts/${name}`).join(`charts/${prefix}${name}`);
    }
    parts.push('', `## ${section.title}`, '', md);
  }
  const m = r.machine;
  parts.push('', '## Machine', '', mdTable(['', ''], [
    ['CPU', m.cpu], ['cores', String(m.cores)], ['memory', `${m.memoryGB} GB`], ['Node', m.node], ['OS', m.os],
    ['load average (1 min) at start / end', `${m.loadStart.toFixed(2)} / ${m.loadEnd.toFixed(2)}`],
    ['date', r.date], ['mode', r.mode], ['duration', `${r.seconds} s`],
  ]), '');
  writeFileSync(file, parts.join('\n'));
  written.unshift(file);
  return written;
}
