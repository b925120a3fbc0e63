import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../guest/host/startWorker.ts';
import { integer, oneOf, u32 } from '../Flags.ts';
import { abiEngine } from '../../fuzz/AbiFuzzer.ts';
import { guestEngine } from '../../fuzz/CanaryFuzzer.ts';
import { newReport, runEngine, type Engine, type EngineName, type FuzzFailure, type FuzzReport } from '../../fuzz/FuzzRun.ts';

/**
 * `vgpu-display fuzz`: the long-run fuzzers (SECURITY.md). Cases are split into chunks of whole
 * epochs and run on worker threads (epochs are independent: each draws from its own stream
 * derived from the seed), so the figures do not depend on --jobs. The first failure stops the run
 * and prints the seed, the case index and the command that replays it with a trace.
 */
const ENGINES: Record<EngineName, Engine> = { abi: abiEngine, guest: guestEngine };
/** Epochs per chunk handed to a worker. */
const CHUNK_EPOCHS: Record<EngineName, number> = { abi: 20, guest: 20 };
const WORKER_TAG = 'vgpu-display-fuzz-worker';

interface Chunk {
  readonly engine: EngineName;
  readonly firstCase: number;
  readonly cases: number;
}

interface ChunkResult {
  readonly chunk: Chunk;
  readonly report: FuzzReport;
}

interface FuzzCliOptions {
  cases: number;
  guestCases?: number;
  seed?: number;
  only?: EngineName;
  jobs?: number;
  replay?: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('fuzz')
    .description('run the ABI and guest (canary) fuzzers; reproducible from --seed')
    .option('--cases <n>', 'ABI cases (with --only guest: guest cases)', integer(0, Number.MAX_SAFE_INTEGER), 100_000)
    .option('--guest-cases <n>', 'guest cases (default: a tenth of --cases)', integer(0, Number.MAX_SAFE_INTEGER))
    .option('--seed <s>', 'u32 seed (default: random, printed)', u32)
    .option('--only <engine>', 'run one engine: abi | guest', oneOf<EngineName>(['abi', 'guest']))
    .option('--jobs <n>', 'worker threads (default: the number of CPUs)', integer(1, 64))
    .option('--replay <case>', 'replay one case of --only ENGINE with a trace', integer(0, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print the summary as JSON')
    .action(async (opts: FuzzCliOptions, cmd: Command) => {
      if (opts.replay !== undefined && !opts.only) cmd.error('error: --replay needs --only abi|guest');
      process.exitCode = await fuzzCommand(opts);
    });
}

async function fuzzCommand(opts: FuzzCliOptions): Promise<number> {
  const seed = opts.seed ?? randomSeed();
  if (opts.replay !== undefined) return replay(opts, seed);
  const plan: Record<EngineName, number> = {
    abi: opts.only === 'guest' ? 0 : opts.cases,
    guest: opts.only === 'guest' ? opts.cases : opts.only === 'abi' ? 0 : (opts.guestCases ?? Math.ceil(opts.cases / 10)),
  };
  // Interleave the engines' chunks in proportion, so both progress and the tail stays short.
  const chunks = (Object.keys(plan) as EngineName[])
    .flatMap((e) => planChunks(e, plan[e]).map((c, i, all) => ({ c, at: (i + 0.5) / all.length })))
    .sort((x, y) => x.at - y.at).map((x) => x.c);
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), chunks.length));
  const log = (line: string): void => { (opts.json ? process.stderr : process.stdout).write(line + '\n'); };
  log(`fuzz: seed ${seed}, abi ${plan.abi} cases, guest ${plan.guest} cases, ${jobs} job(s)`);

  const totals: Record<EngineName, FuzzReport> = { abi: newReport('abi', seed), guest: newReport('guest', seed) };
  const started = performance.now();
  let lastLog = 0;
  const onChunk = (r: ChunkResult): void => {
    merge(totals[r.chunk.engine], r.report);
    const now = performance.now();
    if (now - lastLog < 5000 && !r.report.failures.length) return;
    lastLog = now;
    for (const e of ['abi', 'guest'] as const) {
      if (!plan[e]) continue;
      const t = totals[e];
      log(`  ${e.padEnd(5)} ${String(t.cases).padStart(8)}/${plan[e]} cases  failures ${t.failures.length}  oopses ${t.oopses}  leaks ${t.leaks}  ${secs(now - started)}`);
    }
  };
  const failure = jobs === 1 ? runInProcess(seed, chunks, onChunk) : await runInWorkers(seed, chunks, jobs, onChunk);
  const elapsed = performance.now() - started;
  const failures = failure ? [failure] : [];
  const cases = totals.abi.cases + totals.guest.cases;
  const oopses = totals.abi.oopses + totals.guest.oopses;
  const leaks = totals.abi.leaks + totals.guest.leaks;
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      seed, jobs, elapsedSeconds: Math.round(elapsed / 100) / 10, cases, failures, oopses, leaks,
      engines: { abi: summary(totals.abi, plan.abi), guest: summary(totals.guest, plan.guest) },
    }, null, 2) + '\n');
  } else {
    for (const e of ['abi', 'guest'] as const) {
      if (!plan[e]) continue;
      const t = totals[e];
      log(`${e.padEnd(5)} ${t.cases} cases, ${t.ops} operations, ${t.epochs} epochs: failures ${e === failure?.engine ? 1 : 0}, oopses ${t.oopses}, leaks ${t.leaks}`);
    }
    log(`total ${cases} cases: failures ${failures.length}, oopses ${oopses}, leaks ${leaks}, elapsed ${secs(elapsed)} (${jobs} job(s))`);
  }
  if (failure) {
    const out = process.stderr;
    out.write(`\nFAIL ${failure.engine} case ${failure.caseIndex} (seed ${failure.seed}): ${failure.message}\n`);
    for (const line of failure.trace.slice(-80)) out.write(`  | ${line}\n`);
    out.write(`reproduce: vgpu-display fuzz --only ${failure.engine} --seed ${failure.seed} --replay ${failure.caseIndex}\n`);
    return 1;
  }
  return oopses === 0 && leaks === 0 ? 0 : 1;
}

function replay(opts: FuzzCliOptions, seed: number): number {
  const engine = opts.only ?? 'abi';
  const index = opts.replay!;
  const report = runEngine(ENGINES[engine], { seed, cases: 1, firstCase: index, traceCase: index });
  const f = report.failures[0];
  if (opts.json) {
    process.stdout.write(JSON.stringify({ seed, engine, case: index, failure: f ?? null }, null, 2) + '\n');
    return f ? 1 : 0;
  }
  if (!f) {
    process.stdout.write(`${engine} case ${index} (seed ${seed}): passed\n`);
    return 0;
  }
  process.stdout.write(`${engine} case ${index} (seed ${seed}): FAIL ${f.message}\n`);
  for (const line of f.trace) process.stdout.write(`  | ${line}\n`);
  return 1;
}

/** Whole epochs per chunk; the last chunk of an engine may be short. */
export function planChunks(engine: EngineName, cases: number): Chunk[] {
  const size = ENGINES[engine].casesPerEpoch * CHUNK_EPOCHS[engine];
  const out: Chunk[] = [];
  for (let first = 0; first < cases; first += size) out.push({ engine, firstCase: first, cases: Math.min(size, cases - first) });
  return out;
}

function runInProcess(seed: number, chunks: readonly Chunk[], onChunk: (r: ChunkResult) => void): FuzzFailure | undefined {
  for (const chunk of chunks) {
    const report = runEngine(ENGINES[chunk.engine], { seed, firstCase: chunk.firstCase, cases: chunk.cases });
    onChunk({ chunk, report });
    if (report.failures[0]) return report.failures[0];
  }
  return undefined;
}

/** Workers pull chunks from a queue; the first failure terminates them all. */
function runInWorkers(seed: number, chunks: readonly Chunk[], jobs: number, onChunk: (r: ChunkResult) => void): Promise<FuzzFailure | undefined> {
  const queue = [...chunks];
  const workers: Worker[] = [];
  return new Promise((resolve) => {
    let done = false;
    let running = 0;
    const finish = (f: FuzzFailure | undefined): void => {
      if (done) return;
      done = true;
      for (const w of workers) void w.terminate();
      resolve(f);
    };
    const feed = (w: Worker): void => {
      const chunk = queue.shift();
      if (!chunk) {
        void w.terminate();
        if (--running === 0) finish(undefined);
        return;
      }
      w.postMessage({ seed, chunk });
    };
    for (let i = 0; i < jobs; i++) {
      // The worker runs this same module (from source under tsx, or compiled).
      const w = startModuleWorker(new URL(import.meta.url), { workerData: { tag: WORKER_TAG } });
      workers.push(w);
      running++;
      w.on('message', (r: ChunkResult) => {
        if (done) return;
        onChunk(r);
        if (r.report.failures[0]) finish(r.report.failures[0]);
        else feed(w);
      });
      w.on('error', (err) => {
        finish({ engine: 'abi', seed, caseIndex: -1, message: `worker crashed: ${err.stack ?? err.message}`, trace: [] });
      });
      w.once('online', () => feed(w));
    }
  });
}

function workerMain(): void {
  parentPort!.on('message', (m: { seed: number; chunk: Chunk }) => {
    const report = runEngine(ENGINES[m.chunk.engine], { seed: m.seed, firstCase: m.chunk.firstCase, cases: m.chunk.cases });
    parentPort!.postMessage({ chunk: m.chunk, report } satisfies ChunkResult);
  });
}

function merge(into: FuzzReport, r: FuzzReport): void {
  into.cases += r.cases;
  into.ops += r.ops;
  into.epochs += r.epochs;
  into.oopses += r.oopses;
  into.leaks += r.leaks;
  into.failures.push(...r.failures);
  for (const [k, v] of Object.entries(r.stats)) into.stats[k] = (into.stats[k] ?? 0) + v;
}

function summary(r: FuzzReport, planned: number): object {
  return { planned, cases: r.cases, ops: r.ops, epochs: r.epochs, failures: r.failures.length, oopses: r.oopses, leaks: r.leaks, stats: r.stats };
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function randomSeed(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0]!;
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === WORKER_TAG) workerMain();
