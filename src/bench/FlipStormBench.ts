import { VirtualClock } from '../base/Clock.ts';
import { NaiveClient } from '../testkit/NaiveClient.ts';
import { TimedClock } from '../testkit/TimedClock.ts';
import { TimedSys } from '../testkit/TimedSys.ts';
import { GvtGuest, type GuestBuffer } from '../testkit/GvtGuest.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { GuestMemory, PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { RegionMdev } from '../vfio/RegionMdev.ts';
import { RegionDevice } from '../vgpu/region/RegionDevice.ts';
import { cpuNowMs, wallNowMs } from './CpuClock.ts';
import { round, spread, type Spread } from './Stats.ts';

export interface FlipStormOptions {
  /** Latched page flips per storm (one per vblank at 60 Hz). */
  readonly flips: number;
  readonly width: number;
  readonly height: number;
  /** Repetitions of the whole set of storms. */
  readonly reps: number;
  /** Client refresh timer (default 16 ms, QEMU GTK at 60 Hz). */
  readonly refreshMs?: number;
  readonly log?: (line: string) => void;
}

/** What one client paid in one storm. */
export interface StormRun {
  readonly gets: number;
  readonly fdsOpened: number;
  readonly bytesCopied: number;
  readonly refreshes: number;
  readonly queries: number;
  /** Wall µs per refresh, inside the client's timer callbacks (emulated ioctls included). */
  readonly usPerRefresh: number;
  /** The part of usPerRefresh spent inside the emulated kernel (device model). */
  readonly usInSyscalls: number;
  /** Process CPU µs per refresh (process.cpuUsage around each refresh). */
  readonly cpuUsPerRefresh: number;
}

/** Counts of the first run (they are deterministic) and timings as median/min/max over runs. */
export interface ClientFigures {
  readonly gets: number;
  readonly fdsOpened: number;
  readonly bytesCopied: number;
  readonly refreshes: number;
  readonly queries: number;
  readonly usPerRefresh: number;
  readonly usInSyscalls: number;
  readonly cpuUsPerRefresh: number;
  readonly spread: { readonly usPerRefresh: Spread; readonly usInSyscalls: Spread; readonly cpuUsPerRefresh: Spread };
}

export interface FlipStormBenchResult {
  readonly flips: number;
  readonly width: number;
  readonly height: number;
  readonly refreshMs: number;
  readonly reps: number;
  /** Double-buffered guest (the display-client issue's keys). */
  readonly ours: ClientFigures;
  readonly naive: ClientFigures;
  /** mdpy-style region device: one framebuffer, copied every refresh (no flips to speak of). */
  readonly region: ClientFigures;
  readonly triple: { readonly ours: ClientFigures; readonly naive: ClientFigures };
  /** Per-run ratios of per-refresh CPU, computed within each run. */
  readonly ratios: {
    readonly naiveOverOurs: Spread;
    readonly regionOverOurs: Spread;
    readonly tripleNaiveOverOurs: Spread;
  };
  /** Counts identical in every run (they must be: the storm is deterministic). */
  readonly countsStable: boolean;
}

type Kind = 'ours' | 'naive';

/**
 * Section 1, the flip storm: guests flip between 2 (or 3) buffers at every vblank in virtual time
 * while clients refresh on a 16 ms timer. Ours (dma-buf cache by id) against a naive client (GET +
 * mmap + close every refresh) and the region path (copy the framebuffer every refresh). In each run
 * all five storms advance together on one virtual clock — every client's refreshes are interleaved
 * with the others' — so load from elsewhere falls on all of them alike and each ratio compares
 * like with like.
 */
export function runFlipStormBench(o: FlipStormOptions): FlipStormBenchResult {
  const refreshMs = o.refreshMs ?? 16;
  const runs: Record<'ours2' | 'naive2' | 'ours3' | 'naive3' | 'region', StormRun[]> = {
    ours2: [], naive2: [], ours3: [], naive3: [], region: [],
  };
  for (let r = 0; r < o.reps; r++) {
    o.log?.(`  flip storm run ${r + 1}/${o.reps}`);
    const clock = new VirtualClock();
    const rigs = {
      ours2: dmabufRig('ours', 2, o, refreshMs, clock),
      naive2: dmabufRig('naive', 2, o, refreshMs, clock),
      ours3: dmabufRig('ours', 3, o, refreshMs, clock),
      naive3: dmabufRig('naive', 3, o, refreshMs, clock),
      region: regionRig(o, refreshMs, clock),
    };
    const all = Object.values(rigs);
    drive(clock, o.flips, (i) => { for (const g of all) g.arm(i); }, () => { for (const g of all) g.vblank(); });
    for (const [k, g] of Object.entries(rigs)) runs[k as keyof typeof rigs].push(g.finish());
  }
  const ratio = (a: StormRun[], b: StormRun[]): Spread =>
    spread(a.map((x, i) => x.cpuUsPerRefresh / Math.max(1e-9, b[i]!.cpuUsPerRefresh)));
  const stable = Object.values(runs).every((rs) => rs.every((x) => sameCounts(x, rs[0]!)));
  return {
    flips: o.flips, width: o.width, height: o.height, refreshMs, reps: o.reps,
    ours: figures(runs.ours2), naive: figures(runs.naive2), region: figures(runs.region),
    triple: { ours: figures(runs.ours3), naive: figures(runs.naive3) },
    ratios: {
      naiveOverOurs: ratio(runs.naive2, runs.ours2),
      regionOverOurs: ratio(runs.region, runs.ours2),
      tripleNaiveOverOurs: ratio(runs.naive3, runs.ours3),
    },
    countsStable: stable,
  };
}

function sameCounts(a: StormRun, b: StormRun): boolean {
  return a.gets === b.gets && a.fdsOpened === b.fdsOpened && a.bytesCopied === b.bytesCopied &&
    a.refreshes === b.refreshes && a.queries === b.queries;
}

function figures(rs: StormRun[]): ClientFigures {
  const first = rs[0]!;
  const us = spread(rs.map((r) => r.usPerRefresh));
  const sys = spread(rs.map((r) => r.usInSyscalls));
  const cpu = spread(rs.map((r) => r.cpuUsPerRefresh));
  return {
    gets: first.gets, fdsOpened: first.fdsOpened, bytesCopied: first.bytesCopied, refreshes: first.refreshes,
    queries: first.queries, usPerRefresh: us.median, usInSyscalls: sys.median, cpuUsPerRefresh: cpu.median,
    spread: { usPerRefresh: us, usInSyscalls: sys, cpuUsPerRefresh: cpu },
  };
}

/** Wall time and CPU time of every callback a client registers: wall inside, CPU outside. */
function timedClocks(clock: VirtualClock): { client: TimedClock; wall: TimedClock; cpu: TimedClock } {
  const cpu = new TimedClock(clock, cpuNowMs);
  const wall = new TimedClock(cpu, wallNowMs);
  return { client: wall, wall, cpu };
}

/** One client on its own device, driven by the shared clock: arm frame i, latch, then report. */
interface StormRig {
  arm(i: number): void;
  vblank(): void;
  finish(): StormRun;
}

function dmabufRig(kind: Kind, buffers: number, o: FlipStormOptions, refreshMs: number, clock: VirtualClock): StormRig {
  const host = new EmulatedHost();
  const bufBytes = Math.ceil((o.width * 4) / 64) * 64 * o.height;
  const ramBytes = Math.ceil((buffers * bufBytes + 64 * PAGE_SIZE) / (1 << 20)) * (1 << 20);
  const vgpu = host.createVgpu('i915-GVTg_V5_8', { ramBytes });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`flip storm: open failed (${fd})`);
  const bufs: GuestBuffer[] = [];
  for (let i = 0; i < buffers; i++) bufs.push(guest.alloc({ width: o.width, height: o.height }));
  guest.showPrimary(bufs[0]!);
  guest.vblank();
  const t = timedClocks(clock);
  const sys = new TimedSys(host.kernel, wallNowMs);
  let counts: () => Omit<StormRun, 'usPerRefresh' | 'usInSyscalls' | 'cpuUsPerRefresh'>;
  let stop: () => void;
  if (kind === 'ours') {
    const d = new VfioDisplay(sys, fd, { clock: t.client, policy: 'timer', intervalMs: refreshMs });
    t.client.setTimeout(() => d.start(), 0);
    counts = () => {
      const s = d.stats;
      return { gets: s.gets, fdsOpened: s.fdsOpened, bytesCopied: s.bytesCopied, refreshes: s.refreshes, queries: s.queries };
    };
    stop = () => d.dispose();
  } else {
    const n = new NaiveClient(sys, fd);
    n.start(t.client, refreshMs);
    counts = () => ({ gets: n.gets, fdsOpened: n.fdsOpened, bytesCopied: 0, refreshes: n.refreshes, queries: n.queries });
    stop = () => n.dispose();
  }
  return {
    arm: (i) => guest.flip(bufs[(i + 1) % buffers]!),
    vblank: () => guest.vblank(),
    finish: () => {
      stop();
      const c = counts();
      host.kernel.close(fd);
      host.destroyVgpu(vgpu.uuid);
      return { ...c, ...perRefresh(t.wall.busyMs, sys.busyMs, t.cpu.busyMs, c.refreshes) };
    },
  };
}

function regionRig(o: FlipStormOptions, refreshMs: number, clock: VirtualClock): StormRig {
  const host = new EmulatedHost({ ggttPages: 16 });
  const fbBytes = nextPow2(o.width * o.height * 4);
  const memory = new GuestMemory(Math.ceil(fbBytes / PAGE_SIZE) * PAGE_SIZE + 16 * PAGE_SIZE);
  const device = new RegionDevice({ memory, fbFirstPage: 16, width: o.width, height: o.height, grayGradient: false });
  const mdev = new RegionMdev('6d1b0c2e-6a0e-4f5b-9b7a-0000000000fe', 'bench-region', device);
  const file = mdev.open();
  if (typeof file === 'number') throw new Error(`region storm: open failed (${file})`);
  const fd = host.kernel.install(file, true);
  const t = timedClocks(clock);
  const sys = new TimedSys(host.kernel, wallNowMs);
  const d = new VfioDisplay(sys, fd, { clock: t.client, policy: 'timer', intervalMs: refreshMs });
  t.client.setTimeout(() => d.start(), 0);
  // mdpy has one framebuffer: the guest "flips" by drawing one new pixel per frame.
  const fb = memory.bytes;
  const base = 16 * PAGE_SIZE;
  return {
    arm: (i) => { fb[base + ((i * 4) % (o.width * 4))] = i & 0xff; },
    vblank: () => device.vblank(),
    finish: () => {
      d.dispose();
      host.kernel.close(fd);
      const s = d.stats;
      return {
        gets: s.gets, fdsOpened: s.fdsOpened, bytesCopied: s.bytesCopied, refreshes: s.refreshes, queries: s.queries,
        ...perRefresh(t.wall.busyMs, sys.busyMs, t.cpu.busyMs, s.refreshes),
      };
    },
  };
}

/** `flips` vblanks at 60 Hz: arm frame i, advance to its vblank (client timers fire), latch. */
function drive(clock: VirtualClock, flips: number, arm: (i: number) => void, vblank: () => void): void {
  const period = 1000 / 60;
  clock.advance(0);
  for (let i = 0; i < flips; i++) {
    arm(i);
    clock.advance((i + 1) * period - clock.now());
    vblank();
  }
  clock.advance(0);
}

function perRefresh(wallMs: number, sysMs: number, cpuMs: number, refreshes: number):
  { usPerRefresh: number; usInSyscalls: number; cpuUsPerRefresh: number } {
  const per = (ms: number): number => (refreshes > 0 ? round((ms * 1000) / refreshes, 3) : 0);
  return { usPerRefresh: per(wallMs), usInSyscalls: per(sysMs), cpuUsPerRefresh: per(cpuMs) };
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
