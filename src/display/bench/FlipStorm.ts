import { VirtualClock } from '../../base/Clock.ts';
import { GuestMemory, PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { EmulatedHost } from '../../vfio/EmulatedHost.ts';
import { RegionMdev } from '../../vfio/RegionMdev.ts';
import { RegionDevice } from '../../vgpu/region/RegionDevice.ts';
import { GvtGuest } from '../testing/GvtGuest.ts';
import { VfioDisplay } from '../VfioDisplay.ts';
import { NaiveClient } from './NaiveClient.ts';
import { TimedClock, wallNow } from './TimedClock.ts';
import { TimedSys } from './TimedSys.ts';

/** What one client paid over the whole storm. */
export interface ClientCost {
  readonly gets: number;
  readonly fdsOpened: number;
  readonly bytesCopied: number;
  /** Wall microseconds per refresh, through the emulated kernel (its ioctl work included). */
  readonly usPerRefresh: number;
  /** The part of usPerRefresh spent inside syscalls (the emulated kernel and device model). */
  readonly usInSyscalls: number;
  readonly refreshes: number;
  readonly queries: number;
}

export interface FlipStormResult {
  readonly flips: number;
  readonly width: number;
  readonly height: number;
  readonly refreshMs: number;
  readonly ours: ClientCost;
  readonly naive: ClientCost;
  readonly region: ClientCost;
}

export interface FlipStormOptions {
  /** Latched page flips (one per vblank). */
  readonly flips: number;
  readonly width: number;
  readonly height: number;
  /** Client refresh timer; default 16 ms (QEMU GTK at 60 Hz). */
  readonly refreshMs?: number;
  /** Guest vblank rate; default 60 Hz. */
  readonly vblankHz?: number;
  /** Wall clock for the cost measurement (ms). */
  readonly wall?: () => number;
}

type Client = 'ours' | 'naive';

/**
 * The flip storm: a double-buffered guest flips at every vblank, in virtual time, while a client
 * refreshes on a timer. Runs our client, a naive client that GETs every refresh, and the region
 * (copy) path on an mdpy-style device of the same resolution.
 */
export function runFlipStorm(o: FlipStormOptions): FlipStormResult {
  const refreshMs = o.refreshMs ?? 16;
  const period = 1000 / (o.vblankHz ?? 60);
  const wall = o.wall ?? wallNow;
  return {
    flips: o.flips, width: o.width, height: o.height, refreshMs,
    ours: storm('ours', o, refreshMs, period, wall),
    naive: storm('naive', o, refreshMs, period, wall),
    region: regionStorm(o, refreshMs, period, wall),
  };
}

function storm(
  kind: Client, o: FlipStormOptions, refreshMs: number, period: number, wall: () => number,
): ClientCost {
  const host = new EmulatedHost();
  const bufBytes = Math.ceil((o.width * 4) / 64) * 64 * o.height;
  const ramBytes = Math.ceil((2 * bufBytes + 64 * PAGE_SIZE) / (1 << 20)) * (1 << 20);
  const vgpu = host.createVgpu('i915-GVTg_V5_8', { ramBytes });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`flip storm: open failed (${fd})`);
  const a = guest.alloc({ width: o.width, height: o.height });
  const b = guest.alloc({ width: o.width, height: o.height });
  guest.showPrimary(a);
  guest.vblank();
  const clock = new VirtualClock();
  const timed = new TimedClock(clock, wall);
  const sys = new TimedSys(host.kernel, wall);
  let cost: () => Omit<ClientCost, 'usPerRefresh' | 'usInSyscalls'>;
  let stop: () => void;
  if (kind === 'ours') {
    const d = new VfioDisplay(sys, fd, { clock: timed, policy: 'timer', intervalMs: refreshMs });
    timed.setTimeout(() => d.start(), 0);
    cost = () => {
      const s = d.stats;
      return {
        gets: s.gets, fdsOpened: s.fdsOpened, bytesCopied: s.bytesCopied, refreshes: s.refreshes,
        queries: s.queries,
      };
    };
    stop = () => d.dispose();
  } else {
    const n = new NaiveClient(sys, fd);
    n.start(timed, refreshMs);
    cost = () => ({
      gets: n.gets, fdsOpened: n.fdsOpened, bytesCopied: 0, refreshes: n.refreshes, queries: n.queries,
    });
    stop = () => n.dispose();
  }
  drive(clock, o.flips, period, (i) => guest.flip(i % 2 === 0 ? b : a), () => guest.vblank());
  stop();
  const c = cost();
  return {
    ...c, usPerRefresh: perRefresh(timed.busyMs, c.refreshes), usInSyscalls: perRefresh(sys.busyMs, c.refreshes),
  };
}

function regionStorm(o: FlipStormOptions, refreshMs: number, period: number, wall: () => number): ClientCost {
  const host = new EmulatedHost({ ggttPages: 16 });
  const fbBytes = nextPow2(o.width * o.height * 4);
  const memory = new GuestMemory(Math.ceil(fbBytes / PAGE_SIZE) * PAGE_SIZE + 16 * PAGE_SIZE);
  const device = new RegionDevice({
    memory, fbFirstPage: 16, width: o.width, height: o.height, grayGradient: false,
  });
  const mdev = new RegionMdev('6d1b0c2e-6a0e-4f5b-9b7a-0000000000ff', 'bench-region', device);
  const file = mdev.open();
  if (typeof file === 'number') throw new Error(`region storm: open failed (${file})`);
  const fd = host.kernel.install(file, true);
  const clock = new VirtualClock();
  const timed = new TimedClock(clock, wall);
  const sys = new TimedSys(host.kernel, wall);
  const d = new VfioDisplay(sys, fd, { clock: timed, policy: 'timer', intervalMs: refreshMs });
  timed.setTimeout(() => d.start(), 0);
  // The guest "flips" by drawing one new pixel per frame (mdpy has a single framebuffer).
  const fb = memory.bytes;
  const base = 16 * PAGE_SIZE;
  drive(clock, o.flips, period, (i) => { fb[base + ((i * 4) % (o.width * 4))] = i & 0xff; }, () => device.vblank());
  d.dispose();
  const s = d.stats;
  return {
    gets: s.gets, fdsOpened: s.fdsOpened, bytesCopied: s.bytesCopied, refreshes: s.refreshes,
    queries: s.queries, usPerRefresh: perRefresh(timed.busyMs, s.refreshes),
    usInSyscalls: perRefresh(sys.busyMs, s.refreshes),
  };
}

/** `flips` vblanks: arm frame i, advance to the vblank (client timers fire on the way), latch. */
function drive(
  clock: VirtualClock, flips: number, period: number, arm: (i: number) => void, vblank: () => void,
): void {
  clock.advance(0);
  for (let i = 0; i < flips; i++) {
    arm(i);
    clock.advance((i + 1) * period - clock.now());
    vblank();
  }
  clock.advance(0);
}

function perRefresh(busyMs: number, refreshes: number): number {
  return refreshes > 0 ? round((busyMs * 1000) / refreshes) : 0;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
