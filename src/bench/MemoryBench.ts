import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { VirtualClock } from '../base/Clock.ts';
import { emulatedPageResolver } from '../display/EmulatedPages.ts';
import { GvtGuest } from '../testkit/GvtGuest.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { round, slope } from './Stats.ts';

export interface MemoryOptions {
  /** Page flips through one display client (default 1M). */
  readonly flips: number;
  /** Heap samples over the flips (after a warm-up sample at 0). */
  readonly flipSamples: number;
  /** vGPU create → open → show → close → destroy cycles. */
  readonly cycles: number;
  readonly cycleSamples: number;
  readonly log?: (line: string) => void;
}

export interface MemorySample {
  /** Flips (or cycles) done when the sample was taken. */
  readonly at: number;
  readonly heapBytes: number;
  readonly rssBytes: number;
  /** ArrayBuffer and SharedArrayBuffer backing stores (guest memory lives there). */
  readonly arrayBufferBytes: number;
}

export interface MemoryResult {
  readonly flips: number;
  readonly cycles: number;
  /**
   * Least-squares heap growth (after a full GC at each sample) per 1000 flips, fitted over the
   * samples after the first interval (that one still includes warm-up).
   */
  readonly heapSlopeBytesPerKFlips: number;
  readonly heapSlopeBytesPerKCycles: number;
  /** The same fits for RSS and for ArrayBuffer memory. */
  readonly rssSlopeBytesPerKFlips: number;
  readonly rssSlopeBytesPerKCycles: number;
  readonly arrayBufferSlopeBytesPerKCycles: number;
  /** RSS at the end of each part and now (MB). */
  readonly rssMB: number;
  readonly rssStartMB: number;
  /** Fitted growth over the whole part (bytes): slope × count. */
  readonly flipGrowthBytes: number;
  readonly cycleGrowthBytes: number;
  /** Both fitted growths below 1 MiB. */
  readonly flat: boolean;
  /** Whether samples were taken after a forced full GC (always, unless V8 refused). */
  readonly gcForced: boolean;
  readonly flipSamples: readonly MemorySample[];
  readonly cycleSamples: readonly MemorySample[];
  /** Open fds in the kernel and live vGPUs after the cycles (both must be back to the start). */
  readonly leakedFds: number;
  readonly leakedVgpus: number;
}

/** A full, synchronous GC: global gc when node runs with --expose-gc, else V8's, made reachable. */
function gcFunction(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    return typeof f === 'function' ? (f as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Least-squares slope per unit of `at`, leaving out the first interval (still warm-up). */
function fit(samples: readonly MemorySample[], pick: (s: MemorySample) => number): number {
  const xs = samples.length > 3 ? samples.slice(1) : samples;
  return slope(xs.map((s) => s.at), xs.map(pick));
}

function sample(at: number, gc: (() => void) | undefined): MemorySample {
  if (gc) { gc(); gc(); }
  const m = process.memoryUsage();
  return { at, heapBytes: m.heapUsed, rssBytes: m.rss, arrayBufferBytes: m.arrayBuffers };
}

/**
 * Section 6, memory: heap and RSS over 1M page flips through one display client (event policy:
 * every flip is an IRQ, a refresh and a scanout) and over 10k vGPU lifecycles (create, open, show,
 * GET a dma-buf, close, destroy) on one host. The heap is sampled after a full GC; the slope is a
 * least-squares fit, so a leak of a few bytes per flip shows as a clear non-zero slope.
 */
export function runMemoryBench(o: MemoryOptions): MemoryResult {
  const gc = gcFunction();
  const rssStart = process.memoryUsage().rss;
  const flipSamples = flipPart(o, gc);
  const { samples: cycleSamples, leakedFds, leakedVgpus } = cyclePart(o, gc);
  const fs = fit(flipSamples, (s) => s.heapBytes);
  const cs = fit(cycleSamples, (s) => s.heapBytes);
  const flipGrowth = fs * o.flips;
  const cycleGrowth = cs * o.cycles;
  return {
    flips: o.flips, cycles: o.cycles,
    heapSlopeBytesPerKFlips: round(fs * 1000, 1),
    heapSlopeBytesPerKCycles: round(cs * 1000, 1),
    rssSlopeBytesPerKFlips: round(fit(flipSamples, (x) => x.rssBytes) * 1000, 1),
    rssSlopeBytesPerKCycles: round(fit(cycleSamples, (x) => x.rssBytes) * 1000, 1),
    arrayBufferSlopeBytesPerKCycles: round(fit(cycleSamples, (x) => x.arrayBufferBytes) * 1000, 1),
    rssMB: round(process.memoryUsage().rss / 1e6, 1),
    rssStartMB: round(rssStart / 1e6, 1),
    flipGrowthBytes: Math.round(flipGrowth),
    cycleGrowthBytes: Math.round(cycleGrowth),
    flat: Math.abs(flipGrowth) < 1 << 20 && Math.abs(cycleGrowth) < 1 << 20,
    gcForced: gc !== undefined,
    flipSamples, cycleSamples, leakedFds, leakedVgpus,
  };
}

function flipPart(o: MemoryOptions, gc: (() => void) | undefined): MemorySample[] {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('i915-GVTg_V5_8', { ramBytes: 4 << 20 });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`memory: open failed (${fd})`);
  const a = guest.alloc({ width: 320, height: 240 });
  const b = guest.alloc({ width: 320, height: 240 });
  guest.showPrimary(a);
  guest.vblank();
  const clock = new VirtualClock();
  const d = new VfioDisplay(host.kernel, fd, {
    clock, policy: 'event', dirtyLog: vgpu.dirtyLog, pageResolver: emulatedPageResolver(host.kernel),
  });
  d.start();
  if (d.policy !== 'event') throw new Error(`memory: event policy fell back to ${d.policy}`);
  const period = 1000 / 60;
  let done = 0;
  const flip = (n: number): void => {
    for (let i = 0; i < n; i++) {
      guest.flip(done % 2 === 0 ? b : a);
      guest.vblank();
      clock.advance(period);
      done++;
    }
  };
  // Warm-up (JIT, first GETs) before the first sample.
  flip(Math.min(10_000, Math.ceil(o.flips / 10)));
  done = 0;
  const scanouts0 = d.stats.scanouts;
  const samples = [sample(0, gc)];
  const every = Math.max(1, Math.floor(o.flips / o.flipSamples));
  while (done < o.flips) {
    flip(Math.min(every, o.flips - done));
    samples.push(sample(done, gc));
    if (samples.length % 5 === 1) o.log?.(`  memory: ${done} flips`);
  }
  const s = d.stats;
  if (s.scanouts - scanouts0 !== o.flips || s.gets !== 2) {
    throw new Error(`memory: ${s.scanouts - scanouts0} scanouts and ${s.gets} GETs for ${o.flips} flips`);
  }
  d.dispose();
  host.kernel.close(fd);
  host.destroyVgpu(vgpu.uuid);
  return samples;
}

function cyclePart(o: MemoryOptions, gc: (() => void) | undefined):
  { samples: MemorySample[]; leakedFds: number; leakedVgpus: number } {
  const host = new EmulatedHost();
  const fds0 = host.kernel.fds.openCount;
  const cycle = (): void => {
    const vgpu = host.createVgpu('i915-GVTg_V5_8', { ramBytes: 256 * 1024 });
    const guest = new GvtGuest(vgpu);
    const fd = host.openDevice(vgpu.uuid);
    if (fd < 0) throw new Error(`memory: open failed (${fd})`);
    const buf = guest.alloc({ width: 64, height: 32 });
    guest.showPrimary(buf);
    guest.vblank();
    const d = new VfioDisplay(host.kernel, fd, { clock: new VirtualClock(), policy: 'timer' });
    d.start();
    if (d.stats.gets !== 1) throw new Error('memory: a cycle did not GET its dma-buf');
    d.dispose();
    host.kernel.close(fd);
    host.destroyVgpu(vgpu.uuid);
  };
  // Warm-up: the JIT and the host's maps reach their working size first.
  for (let i = 0; i < Math.max(200, Math.ceil(o.cycles / 5)); i++) cycle();
  const samples = [sample(0, gc)];
  const every = Math.max(1, Math.floor(o.cycles / o.cycleSamples));
  let done = 0;
  while (done < o.cycles) {
    const n = Math.min(every, o.cycles - done);
    for (let i = 0; i < n; i++) cycle();
    done += n;
    samples.push(sample(done, gc));
  }
  return { samples, leakedFds: host.kernel.fds.openCount - fds0, leakedVgpus: host.vgpus.length };
}
