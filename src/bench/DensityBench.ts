import { freemem } from 'node:os';
import type { VfioDisplay } from '../display/VfioDisplay.ts';
import { BenchVm } from './BenchVm.ts';
import { cpuNowMs, threadCpuMs, threadPreemptions, wallNowMs } from './CpuClock.ts';
import { quantile, round, spread, type Spread } from './Stats.ts';
import { Ticker, type Tick } from './Ticker.ts';

export interface DensityOptions {
  /** VM counts to try, ascending; the run stops after the first count that fails. */
  readonly steps: readonly number[];
  /** Measurement windows per count, and their length. */
  readonly windows: number;
  readonly windowMs: number;
  /** Settling time after the VMs of a step are up, before the first window. */
  readonly settleMs?: number;
  /** Guest display mode (default 1024×768). */
  readonly width?: number;
  readonly height?: number;
  /** A count passes when the p99-over-VMs deadline miss rate is at most this (default 0.01). */
  readonly maxMissRate?: number;
  /** Stop adding VMs when free memory falls below this many MB (default 1024). */
  readonly minFreeMB?: number;
  /** VMs booted at a time (default 4). */
  readonly bootBatch?: number;
  /** Empty 60 Hz tickers measured first, with no VM, as the machine's noise floor (default 16; 0 = skip). */
  readonly controlTickers?: number;
  readonly log?: (line: string) => void;
}

export interface DensityStep {
  readonly vms: number;
  /** Medians over windows (min/max in `spread`). */
  readonly p99DeadlineMissRate: number;
  /** Missed refreshes / scheduled refreshes over all VMs. */
  readonly missRate: number;
  /** p99 of refresh start lateness (ms), over every refresh. */
  readonly p99LatenessMs: number;
  /** Whole-process CPU (guests included) per VM, % of one core. */
  readonly cpuPerVmPct: number;
  /** Host event-loop thread CPU per VM (% of one core): refresh, vblank, guest register service. */
  readonly hostThreadPerVmPct: number;
  /** Whole-process CPU, % of one core (200% = both cores of a 2-core machine). */
  readonly cpuTotalPct: number;
  /** Times per second another thread preempted the host's event loop (Linux; NaN elsewhere). */
  readonly hostPreemptionsPerSec: number;
  /** Guest flips latched per VM per second (60 when every guest keeps up). */
  readonly flipsPerVmPerSec: number;
  readonly passed: boolean;
  readonly spread: { readonly p99DeadlineMissRate: Spread; readonly cpuPerVmPct: Spread; readonly missRate: Spread };
}

export interface DensityResult {
  /** The largest VM count that passed (0 if none). */
  readonly vms: number;
  readonly p99DeadlineMissRate: number;
  readonly cpuPerVmPct: number;
  readonly maxMissRate: number;
  readonly width: number;
  readonly height: number;
  readonly steps: readonly DensityStep[];
  /** Why the run stopped: 'failed' (a count missed), 'memory', or 'done' (every count passed). */
  readonly stoppedBy: 'failed' | 'memory' | 'done';
  /** Seconds it took to boot all the guests (worker start-up dominates). */
  readonly bootSeconds: number;
  /**
   * The control: empty tickers with the same deadlines and no VM, measured before the first step
   * (vms = 0; CPU figures are totals). Misses here are the machine's, not ours.
   */
  readonly control?: DensityStep;
}

const PERIOD = 1000 / 60;

/** One VM's host side: vblank ticker, refresh ticker with deadline accounting, its client. */
class Lane {
  public scheduled = 0;
  public missed = 0;
  public readonly lateness: number[] = [];
  public measuring = false;
  private readonly _vblank: Ticker | undefined;
  private readonly _refresh: Ticker;

  /** Without a VM the lane is a control: the same 60 Hz deadlines with nothing to do. */
  public constructor(public readonly vm: BenchVm | undefined, private readonly _display: VfioDisplay | undefined,
    phase: number) {
    this._vblank = vm ? new Ticker(PERIOD, () => vm.vblank()).start(phase) : undefined;
    // The refresh runs half a frame after the vblank, as a compositor's would.
    this._refresh = new Ticker(PERIOD, (t) => this._tick(t)).start(phase + PERIOD / 2);
  }

  public get latches(): number {
    return this.vm?.latches ?? 0;
  }

  public reset(): void {
    this.scheduled = 0;
    this.missed = 0;
    this.lateness.length = 0;
  }

  private _tick(t: Tick): void {
    this._display?.refresh();
    if (!this.measuring) return;
    const end = wallNowMs();
    this.scheduled += 1 + t.skipped;
    this.missed += t.skipped;
    const late = t.started - t.scheduled;
    this.lateness.push(late);
    for (let i = 0; i < t.skipped; i++) this.lateness.push(PERIOD);
    // Started within the period (else it would have been skipped); it must also end before the next.
    if (end > t.scheduled + PERIOD) this.missed++;
  }

  public dispose(): void {
    this._vblank?.dispose();
    this._refresh.dispose();
    this._display?.dispose();
    this.vm?.dispose();
  }
}

/**
 * Section 4, density: how many VMs — cheap guests flipping at every vblank, each with our display
 * client refreshing at 60 Hz on the host's event loop — the host carries while meeting every
 * refresh deadline. A deadline is missed when a refresh starts more than a period (16.7 ms) late
 * or does not finish before the next is due. VMs are added step by step and keep running.
 */
export async function runDensityBench(o: DensityOptions): Promise<DensityResult> {
  const width = o.width ?? 1024;
  const height = o.height ?? 768;
  const maxMiss = o.maxMissRate ?? 0.01;
  const lanes: Lane[] = [];
  const steps: DensityStep[] = [];
  let stoppedBy: DensityResult['stoppedBy'] = 'done';
  let bootMs = 0;
  let control: DensityStep | undefined;
  try {
    if ((o.controlTickers ?? 16) > 0) {
      // The machine's own noise floor: the same deadlines with no VM and no work at all.
      const dummies = Array.from({ length: o.controlTickers ?? 16 }, (_, i) =>
        new Lane(undefined, undefined, ((i * 7919) % 1000) / 1000 * PERIOD));
      try {
        await sleep(o.settleMs ?? 1000);
        control = await measureStep(dummies, 0, o.windows, o.windowMs, maxMiss);
      } finally {
        for (const l of dummies) l.dispose();
      }
      o.log?.(`  density: control (no VMs): miss ${(100 * control.missRate).toFixed(2)}%, ` +
        `p99 lateness ${control.p99LatenessMs} ms, host preempted ${control.hostPreemptionsPerSec}/s`);
    }
    for (const target of o.steps) {
      let memoryShort = false;
      const b0 = wallNowMs();
      while (lanes.length < target) {
        if (freemem() / 1e6 < (o.minFreeMB ?? 1024)) {
          memoryShort = true;
          break;
        }
        const n = Math.min(o.bootBatch ?? 4, target - lanes.length);
        const vms = await Promise.all(Array.from({ length: n }, (_, i) =>
          BenchVm.boot({ name: `d${lanes.length + i}`, width, height, buffers: 2, everyVblank: true })));
        for (const vm of vms) {
          const d = vm.createDisplay({ policy: 'timer' });
          d.start();
          // Spread the VMs' vblanks over the frame, as independent guests would be.
          lanes.push(new Lane(vm, d, ((lanes.length * 7919) % 1000) / 1000 * PERIOD));
        }
      }
      bootMs += wallNowMs() - b0;
      if (memoryShort) {
        o.log?.(`  density: free memory below ${o.minFreeMB ?? 1024} MB at ${lanes.length} VMs: stopping`);
        stoppedBy = 'memory';
        break;
      }
      await sleep(o.settleMs ?? 1000);
      const step = await measureStep(lanes, lanes.length, o.windows, o.windowMs, maxMiss);
      steps.push(step);
      o.log?.(`  density: ${step.vms} VMs: p99 miss ${(100 * step.p99DeadlineMissRate).toFixed(2)}%, ` +
        `CPU ${step.cpuTotalPct}% (${step.cpuPerVmPct}%/VM), ${step.flipsPerVmPerSec} flips/s/VM`);
      if (!step.passed) {
        stoppedBy = 'failed';
        break;
      }
    }
  } finally {
    for (const l of lanes) l.dispose();
  }
  const best = [...steps].reverse().find((s) => s.passed);
  return {
    vms: best?.vms ?? 0, p99DeadlineMissRate: best?.p99DeadlineMissRate ?? NaN, cpuPerVmPct: best?.cpuPerVmPct ?? NaN,
    maxMissRate: maxMiss, width, height, steps, stoppedBy, bootSeconds: round(bootMs / 1000, 1),
    ...(control ? { control } : {}),
  };
}

/** Measure `windows` windows over the lanes; per-VM figures divide by `vms` (0 = control). */
async function measureStep(lanes: Lane[], vms: number, windows: number, windowMs: number, maxMiss: number):
  Promise<DensityStep> {
  const per = Math.max(1, vms);
  const wins: Array<{
    p99Miss: number; miss: number; late: number; cpu: number; thread: number; flips: number; preempt: number;
  }> = [];
  for (let w = 0; w < windows; w++) {
    for (const l of lanes) { l.reset(); l.measuring = true; }
    const latch0 = lanes.reduce((s, l) => s + l.latches, 0);
    const c0 = cpuNowMs();
    const h0 = threadCpuMs();
    const p0 = threadPreemptions();
    const t0 = wallNowMs();
    await sleep(windowMs);
    // With VMs, a window also lasts until a first flip latched (a loaded host may delay them all).
    for (let g = 0; vms > 0 && lanes.reduce((s, l) => s + l.latches, 0) === latch0 && g < 60_000; g += 10) await sleep(10);
    const dt = wallNowMs() - t0;
    const cpu = cpuNowMs() - c0;
    const thread = threadCpuMs() - h0;
    const preempt = threadPreemptions() - p0;
    for (const l of lanes) l.measuring = false;
    const latches = lanes.reduce((s, l) => s + l.latches, 0) - latch0;
    const perLane = lanes.map((l) => (l.scheduled > 0 ? l.missed / l.scheduled : 1));
    const sched = lanes.reduce((s, l) => s + l.scheduled, 0);
    const missed = lanes.reduce((s, l) => s + l.missed, 0);
    const late = lanes.flatMap((l) => l.lateness);
    wins.push({
      p99Miss: quantile(perLane, 0.99), miss: sched > 0 ? missed / sched : 1, late: quantile(late, 0.99),
      cpu: (100 * cpu) / dt / per, thread: (100 * thread) / dt / per,
      flips: (latches * 1000) / dt / per, preempt: (preempt * 1000) / dt,
    });
  }
  const sp = (f: (x: (typeof wins)[number]) => number, d = 4): Spread => spread(wins.map(f), d);
  const p99 = sp((x) => x.p99Miss);
  return {
    vms,
    p99DeadlineMissRate: p99.median,
    missRate: sp((x) => x.miss).median,
    p99LatenessMs: sp((x) => x.late, 2).median,
    cpuPerVmPct: sp((x) => x.cpu, 3).median,
    hostThreadPerVmPct: sp((x) => x.thread, 3).median,
    cpuTotalPct: round(sp((x) => x.cpu, 3).median * per, 1),
    flipsPerVmPerSec: sp((x) => x.flips, 1).median,
    hostPreemptionsPerSec: sp((x) => x.preempt, 0).median,
    passed: p99.median <= maxMiss,
    spread: { p99DeadlineMissRate: p99, cpuPerVmPct: sp((x) => x.cpu, 3), missRate: sp((x) => x.miss) },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
