import type { SessionView } from './SessionView.ts';
import { setText } from './Dom.ts';

/** Per-second rates from monotonic counters, sampled once a second. */
class Rate {
  private _last = 0;
  private _lastAt = 0;
  public value = 0;

  public sample(count: number, now: number): void {
    if (this._lastAt > 0 && now > this._lastAt) this.value = ((count - this._last) * 1000) / (now - this._lastAt);
    this._last = count;
    this._lastAt = now;
  }
}

function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

/** `{ a: { b: 1 } }` → ['a.b 1']: the server's STATS payload, shown as it comes. */
export function flattenStats(v: unknown, prefix = '', out: string[] = [], depth = 0): string[] {
  if (depth > 4 || out.length > 40) return out;
  if (typeof v === 'number') out.push(`${prefix} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
  else if (typeof v === 'string' || typeof v === 'boolean') out.push(`${prefix} ${String(v)}`);
  else if (Array.isArray(v)) out.push(`${prefix} [${v.length}]`);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) flattenStats(x, prefix === '' ? k : `${prefix}.${k}`, out, depth + 1);
  }
  return out;
}

/**
 * The stats overlay (Looking Glass vocabulary): FPS = frames the viewer presented, UPS = guest
 * frames received (FRAME), flips, bytes/s received, the viewer's own stage times, and the
 * server's STATS (per-stage latency, dma-buf cache hits/misses, …) as the server names them.
 */
export class StatsOverlay {
  public readonly element: HTMLElement;
  private readonly _fps = new Rate();
  private readonly _ups = new Rate();
  private readonly _flips = new Rate();
  private readonly _bytes = new Rate();
  private _view: SessionView | null = null;

  public constructor() {
    this.element = document.createElement('pre');
    this.element.className = 'vg-stats';
  }

  public attach(view: SessionView | null): void {
    this._view = view;
  }

  /** Called once a second. */
  public tick(): void {
    const v = this._view;
    if (v === null) return;
    const s = v.session;
    const now = performance.now();
    this._fps.sample(s.counters.presents, now);
    this._ups.sample(s.counters.frames, now);
    this._flips.sample(s.counters.flips, now);
    this._bytes.sample(s.connection.bytesReceived, now);
    if (this.element.hidden) return;
    const t = v.renderer.timings;
    const lines = [
      `FPS ${this._fps.value.toFixed(0)}  UPS ${this._ups.value.toFixed(0)}  flips/s ${this._flips.value.toFixed(0)}`,
      `recv ${bytes(this._bytes.value)}/s  total ${bytes(s.connection.bytesReceived)}`,
      `viewer ${v.renderer.kind}: upload ${t.upload.toFixed(1)} ms  decode ${t.decode.toFixed(1)} ms  ` +
        `present ${t.present.toFixed(1)} ms`,
      `buffers ${s.store.size} (${bytes(s.store.totalBytes)})  flips ${s.counters.flips}  ` +
        `frames ${s.counters.frames}  errors ${s.counters.errors}`,
      ...flattenStats(s.stats).map((l) => `server ${l}`),
    ];
    setText(this.element, lines.join('\n'));
  }
}
