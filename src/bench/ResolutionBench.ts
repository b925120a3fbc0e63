import { VirtualClock } from '../base/Clock.ts';
import { GvtGuest } from '../testkit/GvtGuest.ts';
import { PlaneInfoView } from '../vfio/PlaneInfo.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { GuestMemory, PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_GFX_PLANE_TYPE_DMABUF } from '../vfio/Abi.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { RegionMdev } from '../vfio/RegionMdev.ts';
import { RegionDevice } from '../vgpu/region/RegionDevice.ts';
import { cpuNowMs, wallNowMs } from './CpuClock.ts';
import { ReplaySys } from './ReplaySys.ts';
import { round, spread, type Spread } from './Stats.ts';

export const RESOLUTIONS: ReadonlyArray<readonly [number, number]> = [
  [640, 480], [800, 600], [1024, 768], [1280, 720], [1920, 1080], [2560, 1440], [3840, 2160],
];

export interface ResolutionOptions {
  readonly resolutions: ReadonlyArray<readonly [number, number]>;
  readonly reps: number;
  /** Wall time each measured loop runs for, at least (ms). */
  readonly targetMs: number;
  /** Fewest iterations per loop (default 5). */
  readonly minIterations?: number;
  readonly log?: (line: string) => void;
}

/**
 * One resolution, medians over runs. Costs are CPU µs per refresh (process.cpuUsage over the
 * loop: robust when other processes compete for the cores); `...WallUs` are the wall figures.
 */
export interface ResolutionRow {
  readonly width: number;
  readonly height: number;
  /** Bytes one refresh of the region path copies (stride × height). */
  readonly frameBytes: number;
  /** Steady-state dma-buf refresh: QUERY primary + cursor, cache hit, update; no pixel touched. */
  readonly dmabufUsPerRefresh: number;
  /** The two QUERY_GFX_PLANE ioctls of that refresh, alone (the emulated kernel's share). */
  readonly queryUs: number;
  /**
   * The same refresh with the kernel's QUERY answered in O(1) from a recording (ReplaySys): what
   * the display client itself spends, i.e. the dma-buf path with a kernel that does not walk
   * the plane's pages on every query.
   */
  readonly dmabufClientUs: number;
  /** Region path refresh: QUERY(region) + copy stride × height bytes from the mapping. */
  readonly regionUsPerRefresh: number;
  /** Uint8Array.prototype.set of frameBytes from guest memory: the physical limit of any copy. */
  readonly memcpyUs: number;
  readonly dmabufWallUs: number;
  readonly regionWallUs: number;
  readonly memcpyWallUs: number;
  /** regionUs / dmabufUs, and regionUs / dmabufClientUs, taken within each run. */
  readonly ratio: Spread;
  readonly clientRatio: Spread;
  readonly spread: {
    readonly dmabufUsPerRefresh: Spread;
    readonly queryUs: Spread;
    readonly regionUsPerRefresh: Spread;
    readonly memcpyUs: Spread;
  };
  /** Copy bandwidth of the memcpy in GB/s (decimal), from its wall time. */
  readonly memcpyGBps: number;
}

export interface ResolutionResult {
  readonly reps: number;
  readonly rows: readonly ResolutionRow[];
}

interface Loop {
  /** Wall µs per iteration. */
  readonly us: number;
  readonly cpuUs: number;
  readonly iterations: number;
}

/** Run `fn` until `targetMs` of wall time has passed (at least `min` times). */
export function timeLoop(fn: () => void, targetMs: number, min = 5): Loop {
  return timeLoops([fn], targetMs, 1, min)[0]!;
}

/**
 * Time several loops interleaved: `slices` rounds, each running every function for its share of
 * `targetMs`. Load from elsewhere then falls on all of them alike, not on whichever ran last.
 */
export function timeLoops(fns: ReadonlyArray<() => void>, targetMs: number, slices: number, min = 5): Loop[] {
  const acc = fns.map(() => ({ wall: 0, cpu: 0, n: 0 }));
  const sliceMs = targetMs / slices;
  for (let s = 0; s < slices; s++) {
    for (let k = 0; k < fns.length; k++) {
      const fn = fns[k]!;
      const a = acc[k]!;
      const need = s === slices - 1 ? Math.max(1, min - a.n) : 1;
      const c0 = cpuNowMs();
      const t0 = wallNowMs();
      let n = 0;
      for (;;) {
        fn();
        n++;
        if (n >= need && (n & 3) === 0 && wallNowMs() - t0 >= sliceMs) break;
      }
      const t1 = wallNowMs();
      const c1 = cpuNowMs();
      a.wall += t1 - t0;
      a.cpu += c1 - c0;
      a.n += n;
    }
  }
  return acc.map((a) => ({ us: (a.wall * 1000) / a.n, cpuUs: (a.cpu * 1000) / a.n, iterations: a.n }));
}

interface RunFigures {
  dmabuf: Loop;
  client: Loop;
  query: Loop;
  region: Loop;
  memcpy: Loop;
}

/**
 * Section 2, the resolution sweep: per refresh, what the dma-buf path costs (no pixel touched,
 * so flat in the frame size) against the region path (a full-frame copy, linear), with a plain
 * memcpy of the same bytes measured in the same run as the physical limit line.
 */
export function runResolutionBench(o: ResolutionOptions): ResolutionResult {
  const rows: ResolutionRow[] = [];
  const min = o.minIterations ?? 5;
  for (const [width, height] of o.resolutions) {
    o.log?.(`  resolution ${width}x${height}`);
    const runs: RunFigures[] = [];
    const dm = dmabufRig(width, height);
    const rg = regionRig(width, height);
    const frameBytes = rg.frameBytes;
    const src = new GuestMemory(Math.ceil(frameBytes / PAGE_SIZE) * PAGE_SIZE).bytes.subarray(0, frameBytes);
    const dst = new Uint8Array(frameBytes);
    try {
      for (let r = 0; r < o.reps; r++) {
        // All loops interleaved in slices, so each run's ratio compares like with like.
        const [dmabuf, client, query, region, memcpy] = timeLoops(
          [dm.refresh, dm.clientRefresh, dm.queries, rg.refresh, () => dst.set(src)], o.targetMs * 4, 4, min);
        runs.push({ dmabuf, client, query, region, memcpy });
      }
      if (dm.display.stats.gets !== 1 || dm.display.stats.bytesCopied !== 0) {
        throw new Error(`resolution sweep: the dma-buf client did ${dm.display.stats.gets} GETs, ` +
          `copied ${dm.display.stats.bytesCopied} bytes (expected 1 and 0)`);
      }
      if (rg.display.stats.bytesCopied !== rg.display.stats.refreshes * frameBytes) {
        throw new Error('resolution sweep: the region client did not copy one frame per refresh');
      }
    } finally {
      dm.dispose();
      rg.dispose();
    }
    const med = (f: (x: RunFigures) => number, digits = 3): Spread => spread(runs.map(f), digits);
    const dmabufUs = med((x) => x.dmabuf.cpuUs);
    const queryUs = med((x) => x.query.cpuUs);
    const memcpyWall = med((x) => x.memcpy.us);
    const client = (x: RunFigures): number => Math.max(1e-3, x.client.cpuUs);
    rows.push({
      width, height, frameBytes,
      dmabufUsPerRefresh: dmabufUs.median,
      queryUs: queryUs.median,
      dmabufClientUs: med(client).median,
      regionUsPerRefresh: med((x) => x.region.cpuUs).median,
      memcpyUs: med((x) => x.memcpy.cpuUs).median,
      dmabufWallUs: med((x) => x.dmabuf.us).median,
      regionWallUs: med((x) => x.region.us).median,
      memcpyWallUs: memcpyWall.median,
      ratio: med((x) => x.region.cpuUs / Math.max(1e-3, x.dmabuf.cpuUs), 1),
      clientRatio: med((x) => x.region.cpuUs / client(x), 1),
      spread: {
        dmabufUsPerRefresh: dmabufUs, queryUs, regionUsPerRefresh: med((x) => x.region.cpuUs),
        memcpyUs: med((x) => x.memcpy.cpuUs),
      },
      memcpyGBps: round(frameBytes / (memcpyWall.median * 1000), 2),
    });
  }
  return { reps: o.reps, rows };
}

interface DmabufRig {
  readonly display: VfioDisplay;
  refresh(): void;
  /** A refresh of a second client on the same device whose QUERYs are replayed (ReplaySys). */
  clientRefresh(): void;
  /** The two QUERY ioctls a refresh makes (primary, cursor), nothing else. */
  queries(): void;
  dispose(): void;
}

/** A gvt vGPU showing one linear buffer of the size, our client started (one GET done). */
function dmabufRig(width: number, height: number): DmabufRig {
  const host = new EmulatedHost();
  const stride = Math.ceil((width * 4) / 64) * 64;
  const ramBytes = Math.ceil((stride * height + 64 * PAGE_SIZE) / (1 << 20)) * (1 << 20);
  // V5_4: a 128 MiB aperture holds a 4K buffer (32 MiB) with room to spare.
  const vgpu = host.createVgpu('i915-GVTg_V5_4', { ramBytes });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`resolution sweep: open failed (${fd})`);
  const buf = guest.alloc({ width, height });
  guest.showPrimary(buf);
  guest.vblank();
  const display = new VfioDisplay(host.kernel, fd, { clock: new VirtualClock(), policy: 'timer' });
  display.start();
  const replay = new ReplaySys(host.kernel);
  const fast = new VfioDisplay(replay, fd, { clock: new VirtualClock(), policy: 'timer' });
  fast.start();
  const q = new PlaneInfoView();
  return {
    display,
    refresh: () => display.refresh(),
    clientRefresh: () => fast.refresh(),
    queries: () => {
      host.kernel.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, q.request(VFIO_GFX_PLANE_TYPE_DMABUF, PlaneType.PRIMARY));
      host.kernel.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, q.request(VFIO_GFX_PLANE_TYPE_DMABUF, PlaneType.CURSOR));
    },
    dispose: () => {
      fast.dispose();
      display.dispose();
      host.kernel.close(fd);
      host.destroyVgpu(vgpu.uuid);
    },
  };
}

interface RegionRig {
  readonly display: VfioDisplay;
  readonly frameBytes: number;
  refresh(): void;
  dispose(): void;
}

/** An mdpy-style device of the size with our client started on the region path. */
function regionRig(width: number, height: number): RegionRig {
  const host = new EmulatedHost({ ggttPages: 16 });
  const dev0 = { width, height };
  const fbBytes = nextPow2(width * height * 4);
  const memory = new GuestMemory(Math.ceil(fbBytes / PAGE_SIZE) * PAGE_SIZE + 16 * PAGE_SIZE);
  const device = new RegionDevice({ memory, fbFirstPage: 16, ...dev0, grayGradient: false });
  const mdev = new RegionMdev('6d1b0c2e-6a0e-4f5b-9b7a-0000000000fd', 'bench-region', device);
  const file = mdev.open();
  if (typeof file === 'number') throw new Error(`resolution sweep: region open failed (${file})`);
  const fd = host.kernel.install(file, true);
  const display = new VfioDisplay(host.kernel, fd, { clock: new VirtualClock(), policy: 'timer' });
  display.start();
  if (display.mode !== 'region') throw new Error(`resolution sweep: region device probed as ${display.mode}`);
  return {
    display,
    frameBytes: device.stride * height,
    refresh: () => display.refresh(),
    dispose: () => {
      display.dispose();
      host.kernel.close(fd);
    },
  };
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
