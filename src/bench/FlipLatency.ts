import { VirtualClock } from '../base/Clock.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { emulatedPageResolver } from '../display/EmulatedPages.ts';
import { GvtGuest } from '../testkit/GvtGuest.ts';
import { VfioDisplay, type RefreshPolicy } from '../display/VfioDisplay.ts';
import { round } from './Stats.ts';

export interface LatencyStats {
  readonly p50: number;
  readonly p99: number;
  /** Flips that reached scanout. */
  readonly samples: number;
  /** Flips overtaken by the next flip before the client saw them (never shown). */
  readonly dropped: number;
}

export interface LatencyCase {
  readonly policy: RefreshPolicy;
  readonly intervalMs: number;
}

export const LATENCY_CASES: Readonly<Record<'timer30' | 'timer16' | 'event' | 'dirty', LatencyCase>> = {
  timer30: { policy: 'timer', intervalMs: 30 },
  timer16: { policy: 'timer', intervalMs: 16 },
  event: { policy: 'event', intervalMs: 16 },
  dirty: { policy: 'dirty', intervalMs: 16 },
};

/**
 * Flip → scanout latency in virtual time: a triple-buffered guest flips at random vblanks (60 Hz,
 * seeded), and the time from the vblank that latched a flip to the client's onScanout is one
 * sample. Three buffers in rotation so two flips between refreshes never look like none.
 */
export function measureFlipLatency(c: LatencyCase, flips: number, seed = 1): LatencyStats {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('i915-GVTg_V5_8', { ramBytes: 4 * 1024 * 1024 });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`latency: open failed (${fd})`);
  const bufs = [0, 1, 2].map(() => guest.alloc({ width: 256, height: 64 }));
  guest.showPrimary(bufs[0]!);
  guest.vblank();
  const clock = new VirtualClock();
  const display = new VfioDisplay(host.kernel, fd, {
    clock, policy: c.policy, intervalMs: c.intervalMs, dirtyLog: vgpu.dirtyLog,
    pageResolver: emulatedPageResolver(host.kernel),
  });
  display.start();
  if (display.policy !== c.policy) throw new Error(`latency: ${c.policy} fell back to ${display.policy}`);
  const samples: number[] = [];
  let pending: number | undefined;
  let dropped = 0;
  display.console.onScanout(() => {
    if (pending === undefined) return;
    samples.push(clock.now() - pending);
    pending = undefined;
  });
  const period = 1000 / 60;
  let rand = seed >>> 0 || 1;
  let shown = 0;
  let vblanks = 0;
  let done = 0;
  while (done < flips) {
    // xorshift32: deterministic, so every policy sees the same flip pattern.
    rand ^= rand << 13; rand >>>= 0;
    rand ^= rand >>> 17;
    rand ^= rand << 5; rand >>>= 0;
    const flip = (rand & 1) === 1;
    if (flip) {
      shown = (shown + 1) % 3;
      guest.flip(bufs[shown]!);
    }
    vblanks++;
    clock.advance(vblanks * period - clock.now());
    guest.vblank(); // the armed flip latches now
    if (flip) {
      if (pending !== undefined) dropped++;
      pending = clock.now();
      done++;
    }
  }
  clock.advance(Math.max(c.intervalMs, period) * 2);
  if (pending !== undefined) dropped++;
  display.dispose();
  return { ...percentiles(samples), samples: samples.length, dropped };
}

function percentiles(xs: number[]): { p50: number; p99: number } {
  if (xs.length === 0) return { p50: 0, p99: 0 };
  const s = Float64Array.from(xs).sort();
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: round(at(0.5)), p99: round(at(0.99)) };
}

export function measureAllLatencies(flips: number): Record<keyof typeof LATENCY_CASES, LatencyStats> {
  return {
    timer30: measureFlipLatency(LATENCY_CASES.timer30, flips),
    timer16: measureFlipLatency(LATENCY_CASES.timer16, flips),
    event: measureFlipLatency(LATENCY_CASES.event, flips),
    dirty: measureFlipLatency(LATENCY_CASES.dirty, flips),
  };
}
