import { measureAllLatencies, type LatencyStats } from './FlipLatency.ts';
import { runFlipStorm, type ClientCost, type FlipStormResult } from './FlipStorm.ts';

export interface DisplayBenchOptions {
  readonly quick?: boolean;
  /** Override the flip count of the storm (default 100k). */
  readonly flips?: number;
  /** Override the storm resolution (default 640×480 quick, 1024×768 full). */
  readonly width?: number;
  readonly height?: number;
  /** Flips sampled per latency case (default 1000 quick, 5000 full). */
  readonly latencyFlips?: number;
  readonly wall?: () => number;
}

export interface DisplayBenchResult {
  readonly flipStorm: FlipStormResult;
  readonly latencyMs: Record<'timer30' | 'timer16' | 'event' | 'dirty', LatencyStats>;
}

/** The display client's part of `vgpu-display bench`: flip storm, then flip → scanout latency. */
export function runDisplayBench(o: DisplayBenchOptions = {}): DisplayBenchResult {
  const quick = o.quick ?? false;
  const flipStorm = runFlipStorm({
    flips: o.flips ?? 100_000,
    width: o.width ?? (quick ? 640 : 1024),
    height: o.height ?? (quick ? 480 : 768),
    ...(o.wall ? { wall: o.wall } : {}),
  });
  const latencyMs = measureAllLatencies(o.latencyFlips ?? (quick ? 1000 : 5000));
  return { flipStorm, latencyMs };
}

/** A plain-text report of a result. */
export function formatDisplayBench(r: DisplayBenchResult): string {
  const f = r.flipStorm;
  const row = (name: string, c: ClientCost): string =>
    `  ${name.padEnd(8)} ${String(c.gets).padStart(9)} ${String(c.fdsOpened).padStart(9)} ` +
    `${String(c.bytesCopied).padStart(15)} ${c.usPerRefresh.toFixed(2).padStart(10)} ` +
    `${c.usInSyscalls.toFixed(2).padStart(10)} ${String(c.refreshes).padStart(9)}`;
  const lat = (name: string, l: LatencyStats): string =>
    `  ${name.padEnd(8)} ${l.p50.toFixed(2).padStart(8)} ${l.p99.toFixed(2).padStart(8)} ` +
    `${String(l.samples).padStart(8)} ${String(l.dropped).padStart(8)}`;
  return [
    `flip storm: ${f.flips} flips at 60 Hz, ${f.width}x${f.height} XRGB8888, ` +
      `client refresh every ${f.refreshMs} ms (virtual time)`,
    `  client        GETs  fds open    bytes copied µs/refresh  (syscall) refreshes`,
    row('ours', f.ours),
    row('naive', f.naive),
    row('region', f.region),
    'flip → scanout latency (ms, virtual time)',
    '  policy        p50      p99  samples  dropped',
    lat('timer30', r.latencyMs.timer30),
    lat('timer16', r.latencyMs.timer16),
    lat('event', r.latencyMs.event),
    lat('dirty', r.latencyMs.dirty),
  ].join('\n');
}
