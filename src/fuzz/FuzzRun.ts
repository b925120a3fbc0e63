import { errnoName } from '../base/Errno.ts';

/**
 * What the fuzz engines share: options, the report, failures, and the epoch driver.
 *
 * Cases run in EPOCHS: one emulated host (devices, fds, guests) lives for a fixed number of
 * consecutive cases, so state builds up the way it does in a long-running VMM; at the end of the
 * epoch everything is closed and the leak checks run. Every epoch draws from its own stream,
 * `Rng.derive(seed, engine, epoch)`, so case i is reproduced by replaying its epoch from the start
 * up to i — from the seed and the case index alone.
 */
export type EngineName = 'abi' | 'guest';

export interface FuzzOptions {
  readonly seed: number;
  /** Number of cases to run (from `firstCase`). */
  readonly cases: number;
  /** Index of the first case (default 0). Earlier cases of its epoch are replayed silently. */
  readonly firstCase?: number;
  /** Record a trace of this case (replay of a failure). */
  readonly traceCase?: number;
  /** Called after each epoch with the number of cases done so far. */
  readonly onProgress?: (done: number, report: FuzzReport) => void;
}

export interface FuzzFailure {
  readonly engine: EngineName;
  readonly seed: number;
  readonly caseIndex: number;
  readonly message: string;
  /** Operations of the failing case, oldest first (filled when the case was replayed traced). */
  readonly trace: readonly string[];
}

export interface FuzzReport {
  readonly engine: EngineName;
  readonly seed: number;
  cases: number;
  /** Operations issued (syscalls, guest writes, host queries). */
  ops: number;
  epochs: number;
  failures: FuzzFailure[];
  /** Exceptions caught at the emulated syscall boundary (EmulatedKernel.oopses). */
  oopses: number;
  /** Objects left behind after an epoch closed everything (fds, files, dma-buf objects). */
  leaks: number;
  /** Engine-specific counters (successful queries, exports, mappings, rejections by errno…). */
  readonly stats: Record<string, number>;
}

/** A failed check inside a case: aborts the case, becomes a FuzzFailure. */
export class CheckFailure extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'CheckFailure';
  }
}

export function check(cond: boolean, message: () => string): asserts cond {
  if (!cond) throw new CheckFailure(message());
}

export function fmtErrno(r: number): string {
  return r < 0 ? `-${errnoName(r)}` : String(r);
}

/** One epoch of an engine: a fresh world, cases run in order, then teardown checks. */
export interface Epoch {
  /** Run case `index`; throw CheckFailure (or anything) on failure. `trace` collects op lines. */
  runCase(index: number, trace: string[] | undefined): void;
  /** Close everything and check for leaks; throw CheckFailure on a leak. */
  finish(trace: string[] | undefined): void;
}

export interface Engine {
  readonly name: EngineName;
  readonly casesPerEpoch: number;
  createEpoch(seed: number, epoch: number, report: FuzzReport): Epoch;
}

export function newReport(engine: EngineName, seed: number): FuzzReport {
  return { engine, seed, cases: 0, ops: 0, epochs: 0, failures: [], oopses: 0, leaks: 0, stats: {} };
}

export function bump(report: FuzzReport, key: string, n = 1): void {
  report.stats[key] = (report.stats[key] ?? 0) + n;
}

/**
 * Run cases [firstCase, firstCase + cases) of an engine. Stops at the first failure, then replays
 * the failing case's epoch with tracing on, so the failure carries the operations that caused it.
 */
export function runEngine(engine: Engine, opts: FuzzOptions): FuzzReport {
  const report = newReport(engine.name, opts.seed);
  const first = opts.firstCase ?? 0;
  const end = first + opts.cases;
  const per = engine.casesPerEpoch;
  for (let epoch = Math.floor(first / per); epoch * per < end; epoch++) {
    const failure = runEpoch(engine, opts.seed, epoch, first, end, report, opts.traceCase);
    report.epochs++;
    if (failure) {
      const traced = opts.traceCase === failure.caseIndex ? failure
        : replayFailure(engine, opts.seed, failure);
      report.failures.push(traced);
      return report;
    }
    opts.onProgress?.(report.cases, report);
  }
  return report;
}

function runEpoch(
  engine: Engine, seed: number, epoch: number, first: number, end: number, report: FuzzReport,
  traceCase: number | undefined,
): FuzzFailure | undefined {
  const start = epoch * engine.casesPerEpoch;
  const stop = Math.min(start + engine.casesPerEpoch, end);
  let index = start;
  let trace: string[] | undefined;
  try {
    const ep = engine.createEpoch(seed, epoch, report);
    for (; index < stop; index++) {
      trace = index === traceCase ? [] : undefined;
      ep.runCase(index, trace);
      if (index >= first) report.cases++;
    }
    index = stop - 1;
    trace = index === traceCase ? (trace ?? []) : undefined;
    ep.finish(trace);
    return undefined;
  } catch (err) {
    const message = err instanceof CheckFailure ? err.message
      : `exception escaped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    return { engine: engine.name, seed, caseIndex: index, message, trace: trace ?? [] };
  }
}

/** Replay the failing case with tracing; keep the first message if the replay disagrees. */
function replayFailure(engine: Engine, seed: number, f: FuzzFailure): FuzzFailure {
  const scratch = newReport(engine.name, seed);
  const epoch = Math.floor(f.caseIndex / engine.casesPerEpoch);
  const again = runEpoch(engine, seed, epoch, f.caseIndex, f.caseIndex + 1, scratch, f.caseIndex);
  if (!again) return { ...f, trace: ['(replay did not reproduce the failure: nondeterminism?)'] };
  return { ...f, trace: again.trace };
}
