import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import {
  BENCH_SECTIONS, runBenchmarks, summaryMarkdown, writeReport, type BenchRunOptions, type BenchRunResult,
} from '../../bench/BenchRun.ts';
import type { BenchMode } from '../../bench/Sizes.ts';
import { integer, list, oneOf, outputFile } from '../Flags.ts';

export { BENCH_SECTIONS };

export interface BenchOptions {
  readonly quick?: boolean;
  /** Test sizes (not offered on the command line). */
  readonly tiny?: boolean;
  readonly flips?: number;
  readonly only?: readonly string[];
}

/** Run the benchmark sections (all, or `only`) at the size the options pick. */
export function runBench(opts: BenchOptions, log: (line: string) => void = () => {}): Promise<BenchRunResult> {
  const mode: BenchMode = opts.tiny ? 'tiny' : opts.quick ? 'quick' : 'full';
  const o: BenchRunOptions = {
    mode, log, ...(opts.flips !== undefined ? { flips: opts.flips } : {}), ...(opts.only ? { only: opts.only } : {}),
  };
  return runBenchmarks(o);
}

export interface BenchCliOptions {
  quick?: boolean;
  json?: string | boolean;
  flips?: number;
  only?: string[];
  report?: string | boolean;
}

/** The default report file of a mode: the committed full report, or a side file for --quick. */
export function defaultReport(quick: boolean): string {
  return quick ? 'bench/REPORT-quick.md' : 'bench/REPORT.md';
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmarks, measured side by side in one run: flip storm, resolution sweep, latency, ' +
      'density, remote display, memory; prints a summary and writes bench/REPORT.md with SVG charts')
    .option('--quick', 'a one-minute version (smaller sizes, fewer runs); reports to bench/REPORT-quick.md')
    .option('--json [file]', 'JSON results to FILE, or to stdout (alone) when no FILE is given')
    .option('--flips <n>', 'flips in the flip storm (default 100000; 10000 with --quick)', integer(1, 10_000_000))
    .option('--only <sections>', `run only these sections (${BENCH_SECTIONS.map((s) => s.name).join(',')})`,
      list({ item: oneOf(BENCH_SECTIONS.map((s) => s.name)) }))
    .option('--report <file>', 'where to write the Markdown report (charts go to its charts/ folder)', outputFile)
    .option('--no-report', 'write no report')
    .action(async (opts: BenchCliOptions) => {
      const quick = opts.quick ?? false;
      const jsonToStdout = opts.json === true;
      const r = await runBench(
        { quick, ...(opts.flips !== undefined ? { flips: opts.flips } : {}), ...(opts.only ? { only: opts.only } : {}) },
        (line) => process.stderr.write(`${line}\n`),
      );
      const body = `${JSON.stringify(r.json, null, 2)}\n`;
      const out = jsonToStdout ? process.stderr : process.stdout;
      if (jsonToStdout) process.stdout.write(body);
      else out.write(`${r.text}\n`);
      if (typeof opts.json === 'string') {
        writeFileSync(opts.json, body);
        out.write(`wrote ${opts.json}\n`);
      }
      if (opts.report !== false) {
        const file = typeof opts.report === 'string' ? opts.report : defaultReport(quick);
        const files = writeReport(r, file);
        out.write(`wrote ${file} (+ ${files.length - 1} charts)\n`);
      }
      if (!jsonToStdout) out.write(`\nREADME summary:\n\n${summaryMarkdown(r)}\n`);
    });
}
