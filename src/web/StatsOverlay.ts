import { h, setText } from './Dom.ts';
import type { SessionView } from './SessionView.ts';

/** Per-second rates from monotonic counters, sampled once a second. */
/** Per-second rate of a monotonic counter, sampled about once a second. */
export class Rate {
  private _last = 0;
  private _lastAt = 0;
  public value = 0;

  public sample(count: number, now: number): void {
    // A counter below its last sample is another one (a new session): it becomes the baseline.
    if (this._lastAt > 0 && now > this._lastAt && count >= this._last) {
      this.value = ((count - this._last) * 1000) / (now - this._lastAt);
    }
    this._last = count;
    this._lastAt = now;
  }

  /** Forget the baseline: the next sample starts over (the rate reads 0 until the one after). */
  public reset(): void {
    this._last = this._lastAt = this.value = 0;
  }
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

/** A rate or count: one decimal below 10, whole above. */
function amount(n: number): string {
  return n < 10 && n !== 0 ? n.toFixed(1) : n.toFixed(0);
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(1) : n.toFixed(0);
}

/** `{ a: { b: 1 } }` → ['a.b 1']: the server's STATS payload as it comes (the details view). */
export function flattenStats(v: unknown, prefix = '', out: string[] = [], depth = 0): string[] {
  if (depth > 4 || out.length > 80) return out;
  if (typeof v === 'number') out.push(`${prefix} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
  else if (typeof v === 'string' || typeof v === 'boolean') out.push(`${prefix} ${String(v)}`);
  else if (Array.isArray(v)) out.push(`${prefix} [${v.length}]`);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) flattenStats(x, prefix === '' ? k : `${prefix}.${k}`, out, depth + 1);
  }
  return out;
}

/** A field of the STATS payload (`path` of object keys), when it has the expected type. */
function field<T extends 'number' | 'string'>(v: unknown, type: T, ...path: string[]):
  (T extends 'number' ? number : string) | undefined {
  let x = v;
  for (const k of path) {
    if (typeof x !== 'object' || x === null) return undefined;
    x = (x as Record<string, unknown>)[k];
  }
  if (typeof x !== type || (type === 'number' && !Number.isFinite(x))) return undefined;
  return x as (T extends 'number' ? number : string);
}

/** Server counters turned into rates between two STATS payloads (by their `t`). */
class ServerRates {
  private _t = 0;
  private _prev: Record<string, number> = {};
  public rates: Record<string, number> = {};

  public update(stats: unknown, keys: readonly string[]): void {
    const t = field(stats, 'number', 't');
    if (t === undefined || t === this._t) return;
    const now: Record<string, number> = {};
    for (const k of keys) {
      const v = field(stats, 'number', 'display', k);
      if (v !== undefined) now[k] = v;
    }
    const dt = (t - this._t) / 1000;
    this.rates = {};
    if (this._t > 0 && dt > 0) {
      for (const k of keys) {
        if (now[k] !== undefined && this._prev[k] !== undefined) this.rates[k] = Math.max(0, (now[k] - this._prev[k]) / dt);
      }
    }
    this._t = t;
    this._prev = now;
  }
}

type Row = 'vm' | 'rates' | 'flip' | 'refresh' | 'latency' | 'dmabuf' | 'copied' | 'network';

const LABELS: Record<Row, string> = {
  vm: 'VM', rates: 'rates', flip: 'flip→present', refresh: 'refresh', latency: 'viewer', dmabuf: 'dma-buf',
  copied: 'copied', network: 'network',
};

/**
 * The stats overlay (Looking Glass vocabulary), one short line per topic: FPS = frames the
 * viewer presented, UPS = guest updates it received (FRAME + SCANOUT), guest flips/s as the VMM
 * saw them; flip → present (host vblank that latched a flip → the animation frame that showed
 * it, on the viewer's clock via the per-connection offset) p50/p99 and the flips never shown; the
 * refresh policy in effect; the viewer's upload / decode / present times; the dma-buf cache (GETs,
 * hits, misses) and the bytes copied — which must stay 0 on the dma-buf path; bytes received.
 * The server's raw STATS stay available under "details".
 */
export class StatsOverlay {
  public readonly element: HTMLElement;
  private readonly _fps = new Rate();
  private readonly _ups = new Rate();
  private readonly _flips = new Rate();
  private readonly _bytes = new Rate();
  private readonly _server = new ServerRates();
  private readonly _cells = new Map<Row, HTMLElement>();
  private readonly _raw = h('pre', { class: 'vg-stats-rawtext' });
  private readonly _details: HTMLDetailsElement;
  private _view: SessionView | null = null;

  public constructor() {
    const rows = (Object.keys(LABELS) as Row[]).map((r) => {
      const td = h('td');
      this._cells.set(r, td);
      return h('tr', { 'data-row': r }, h('th', {}, LABELS[r]), td);
    });
    const summary = h('summary', {}, 'details');
    // A click here must not take the keyboard from the guest's picture.
    summary.addEventListener('mousedown', (e) => e.preventDefault());
    this._details = h('details', { class: 'vg-stats-raw' }, summary, this._raw);
    this._details.addEventListener('toggle', () => this.tick());
    this.element = h('div', { class: 'vg-stats' }, h('table', {}, h('tbody', {}, ...rows)), this._details);
  }

  public attach(view: SessionView | null): void {
    // The rates are deltas of one session's counters: another session's start over.
    if (view !== this._view) for (const r of [this._fps, this._ups, this._flips, this._bytes]) r.reset();
    this._view = view;
  }

  /** Called once a second. */
  public tick(): void {
    const v = this._view;
    if (v === null) return;
    const s = v.session;
    const now = performance.now();
    this._fps.sample(s.counters.presents, now);
    this._ups.sample(s.counters.frames + s.counters.flips, now);
    this._flips.sample(s.counters.flips, now);
    this._bytes.sample(s.connection.bytesReceived, now);
    const st = s.stats;
    this._server.update(st, ['scanouts', 'queries', 'refreshes']);
    if (this.element.hidden) return;
    const r = this._server.rates;
    const num = (...path: string[]): number | undefined => field(st, 'number', ...path);
    const str = (...path: string[]): string | undefined => field(st, 'string', ...path);
    const set = (row: Row, text: string): void => setText(this._cells.get(row)!, text);

    const size = v.renderer.frameWidth > 0 ? `${v.renderer.frameWidth}×${v.renderer.frameHeight}` : 'no picture';
    set('vm', `${s.vm ?? '—'} · ${size} · ${v.renderer.kind}`);

    const flips = r.scanouts ?? this._flips.value;
    set('rates', `FPS ${amount(this._fps.value)}  UPS ${amount(this._ups.value)}  guest flips/s ${amount(flips)}`);

    const mode = str('display', 'mode');
    const policy = str('display', 'policy');
    const asked = str('display', 'requestedPolicy');
    const note = str('display', 'policyNote');
    set('refresh', policy === undefined ? '—'
      : [`${policy}${asked !== undefined && asked !== policy ? ` (asked ${asked}${note ? `: ${note}` : ''})` : ''}`,
        r.queries !== undefined ? `${amount(r.queries)} queries/s` : undefined,
        mode === 'dmabuf' ? 'dma-buf' : mode].filter((x) => x !== undefined).join(' · '));

    const fl = s.flipLatency;
    const p50 = fl.quantile(0.5);
    const p99 = fl.quantile(0.99);
    set('flip', p50 === undefined || p99 === undefined
      ? (s.clock.offset === undefined ? 'waiting for the host clock…' : 'no flip shown yet')
      : `p50 ${ms(p50)} ms · p99 ${ms(p99)} ms · dropped ${fl.dropped} of ${fl.presented + fl.dropped}` +
        ` · wire p50 ${ms(fl.wireQuantile(0.5) ?? 0)} ms`);
    this._cells.get('flip')!.classList.toggle('vg-warn', fl.dropped > 0 && fl.dropped * 10 > fl.presented);

    const t = v.renderer.timings;
    set('latency', `upload ${ms(t.upload)} · decode ${ms(t.decode)} · present ${ms(t.present)} ms`);

    const gets = num('display', 'gets');
    const hits = num('display', 'cacheHits');
    const misses = num('display', 'cacheMisses');
    const cached = num('display', 'cacheEntries');
    const evicted = num('display', 'evictions');
    set('dmabuf', hits === undefined ? '—'
      : `GETs ${gets ?? '—'} · hits ${hits} · misses ${misses ?? '—'} · cached ${cached ?? '—'}` +
        `${evicted ? ` · evicted ${evicted}` : ''}`);

    const copied = num('display', 'bytesCopied');
    set('copied', copied === undefined ? '—'
      : `${formatBytes(copied)}${copied === 0 && mode === 'dmabuf' ? ' (zero-copy)' : ''}`);
    this._cells.get('copied')!.classList.toggle('vg-warn', copied !== undefined && copied > 0);

    const queued = num('client', 'queuedBytes');
    set('network', `${formatBytes(this._bytes.value)}/s · total ${formatBytes(s.connection.bytesReceived)}` +
      `${queued !== undefined ? ` · server queue ${formatBytes(queued)}` : ''}` +
      `${s.counters.errors > 0 ? ` · errors ${s.counters.errors}` : ''}`);

    if (this._details.open) {
      setText(this._raw, [
        `viewer buffers ${s.store.size} (${formatBytes(s.store.totalBytes)})  frames ${s.counters.frames}  ` +
          `flips ${s.counters.flips}  presents ${s.counters.presents}  errors ${s.counters.errors}`,
        ...flattenStats(st).map((l) => `server ${l}`),
      ].join('\n'));
    }
  }
}
