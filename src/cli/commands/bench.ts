import { InvalidArgumentError, type Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { formatDisplayBench, runDisplayBench } from '../../display/bench/DisplayBench.ts';

export interface BenchOptions {
  readonly quick: boolean;
  readonly flips?: number;
}

/**
 * One part of `vgpu-display bench`. Each part adds its top-level keys to the JSON result and a
 * block to the text report; parts run in order.
 */
export interface BenchSection {
  readonly name: string;
  run(opts: BenchOptions): { json: Record<string, unknown>; text: string };
}

export const BENCH_SECTIONS: BenchSection[] = [
  {
    name: 'display',
    run: (o) => {
      const r = runDisplayBench({ quick: o.quick, ...(o.flips !== undefined ? { flips: o.flips } : {}) });
      return { json: { flipStorm: r.flipStorm, latencyMs: r.latencyMs }, text: formatDisplayBench(r) };
    },
  },
];

export function runBench(
  opts: BenchOptions, log: (line: string) => void = () => {},
): { json: Record<string, unknown>; text: string } {
  const json: Record<string, unknown> = {};
  const texts: string[] = [];
  for (const s of BENCH_SECTIONS) {
    log(`bench: ${s.name}…`);
    const r = s.run(opts);
    Object.assign(json, r.json);
    texts.push(r.text);
  }
  return { json, text: texts.join('\n\n') };
}

function flipCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
    throw new InvalidArgumentError('expected an integer in 1..10000000');
  }
  return n;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmarks: flip storm (GETs, fds, bytes copied, per-refresh cost) and ' +
      'flip → scanout latency per refresh policy')
    .option('--quick', 'smaller sizes (finishes in well under a minute)')
    .option('--json [file]', 'JSON results to FILE, or to stdout (alone) when no FILE is given')
    .option('--flips <n>', 'flips in the flip storm (default 100000)', flipCount)
    .action((opts: { quick?: boolean; json?: string | boolean; flips?: number }) => {
      const jsonToStdout = opts.json === true;
      const { json, text } = runBench(
        { quick: opts.quick ?? false, ...(opts.flips !== undefined ? { flips: opts.flips } : {}) },
        (line) => process.stderr.write(`${line}\n`),
      );
      const body = `${JSON.stringify(json, null, 2)}\n`;
      if (jsonToStdout) {
        process.stdout.write(body);
        return;
      }
      process.stdout.write(`${text}\n`);
      if (typeof opts.json === 'string') {
        writeFileSync(opts.json, body);
        process.stdout.write(`wrote ${opts.json}\n`);
      }
    });
}
