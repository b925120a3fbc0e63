import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import { readDirectScanout } from '../protocol/InspectorData.ts';
import { h, setText } from './Dom.ts';
import type { SessionView } from './SessionView.ts';
import { formatBytes } from './StatsOverlay.ts';

function age(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Compact age for the table: '12.3 s', '4 min', '2 h'. */
function shortAge(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}

function clock(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function hot(v: number): string {
  return v === 0xffffffff ? 'unknown' : String(v);
}

function rate(perSecond: number): string {
  if (perSecond === 0) return 'idle';
  return `${perSecond < 10 ? perSecond.toFixed(1) : perSecond.toFixed(0)}/s`;
}

/** Per-second rate of a counter, from the last two refreshes (about a second apart). */
class CounterRate {
  private _count = 0;
  private _at = 0;
  public value = 0;

  public sample(count: number, now: number): number {
    if (this._at > 0 && now - this._at >= 250) {
      this.value = Math.max(0, ((count - this._count) * 1000) / (now - this._at));
      this._count = count;
      this._at = now;
    } else if (this._at === 0) {
      this._count = count;
      this._at = now;
    }
    return this.value;
  }
}

/**
 * The inspector, a drawer over the right edge of the picture (it never resizes it): the shown
 * planes in sentences, the mirrored dma-buf cache (format, size, bytes, age, times shown), the
 * repeating events as counts and rates (a flip per vblank is one row, not a line per flip), and
 * the other recent events in words.
 */
export class InspectorPanel {
  public readonly element: HTMLElement;
  private readonly _plane = h('dl', { class: 'vg-plane' });
  private readonly _rows = h('tbody');
  private readonly _activity = h('tbody');
  private readonly _events = h('ol', { class: 'vg-events' });
  private readonly _rates = new Map<string, CounterRate>();
  private _view: SessionView | null = null;
  private _eventsShown = -1;
  private _eventsLastTime = 0;

  public constructor() {
    const head = h('tr', {}, ...['id', 'format', 'size', 'received', 'shown', 'age', ''].map((t) => h('th', {}, t)));
    const actHead = h('tr', {}, ...['what', 'count', 'rate', 'last'].map((t) => h('th', {}, t)));
    this.element = h('aside', { class: 'vg-inspector', 'aria-label': 'Inspector' },
      h('h2', {}, 'Planes'), this._plane,
      h('h2', {}, 'dma-buf cache (this viewer\'s mirror; format LINEAR unless named)'),
      h('div', { class: 'vg-table-wrap' }, h('table', { class: 'vg-buffers' }, h('thead', {}, head), this._rows)),
      h('h2', {}, 'Activity'),
      h('table', { class: 'vg-activity' }, h('thead', {}, actHead), this._activity),
      h('h2', {}, 'Recent events'), this._events);
  }

  public attach(view: SessionView | null): void {
    this._view = view;
    this._eventsShown = -1;
    this._rates.clear();
    this.refresh();
  }

  public refresh(): void {
    const v = this._view;
    if (v === null || this.element.hidden) return;
    const s = v.session;
    const now = performance.now();
    const p = s.primary;
    const c = s.cursor;
    const cb = c === null ? undefined : s.store.get(c.id);
    const items: Array<[string, string]> = [
      ['VM', `${s.vm ?? '—'} (${s.connection.status.state === 'open' ? 'connected' : s.connection.status.state}, ` +
        `${v.renderer.kind === 'webgl' ? 'WebGL2' : 'Canvas2D'})`],
      ['primary', p === undefined ? 'none'
        : `dma-buf ${p.id}: ${p.width}×${p.height} ${formatName(p.drmFormat)}, ${modifierName(p.modifier)}, ` +
          `stride ${formatBytes(p.stride)}, ${formatBytes(p.size)}`],
      ['cursor', c === null || cb === undefined ? 'none'
        : `dma-buf ${c.id}: ${cb.width}×${cb.height} ${formatName(cb.drmFormat)} at (${c.x}, ${c.y}), ` +
          `hotspot ${hot(c.hotX)}, ${hot(c.hotY)}`],
      ['damage', s.lastDamage.map((r) => `${r.width}×${r.height} at (${r.x}, ${r.y})`).join(', ') || 'none'],
      ['scale', `${v.scaleLabel()}, ${v.view().filter} filtering`],
    ];
    // The server's verdict for the shown primary (from STATS): could a host plane show it as is.
    const direct = p === undefined ? undefined : readDirectScanout(s.stats);
    if (direct !== undefined) items.push(['scanout', direct.sentence]);
    if (v.rendererNote !== undefined) items.push(['note', v.rendererNote]);
    this._plane.replaceChildren(...items.flatMap(([k, t]) => [h('dt', {}, k), h('dd', {}, t)]));

    const rows = s.store.list().sort((a, b) => a.id - b.id).map((b) => h('tr',
      { class: b.id === s.primaryId ? 'vg-shown' : undefined },
      ...[String(b.id), b.modifier === 0n ? formatName(b.drmFormat) : `${formatName(b.drmFormat)} ${modifierName(b.modifier)}`,
        `${b.width}×${b.height}`, formatBytes(b.bytesReceived), `${b.scanouts}×`, shortAge(now - b.createdAt),
        b.id === s.primaryId ? 'shown' : b.id === c?.id ? 'cursor' : ''].map((t) => h('td', {}, t))));
    this._rows.replaceChildren(...rows);

    const act = [...s.activity.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([what, a]) => {
      let r = this._rates.get(what);
      if (r === undefined) this._rates.set(what, r = new CounterRate());
      const perSecond = r.sample(a.count, now);
      return h('tr', {}, ...[what, String(a.count), rate(perSecond), `${age(now - a.lastAt)} ago`].map((t) => h('td', {}, t)));
    });
    this._activity.replaceChildren(...act);

    const last = s.events.at(-1)?.time ?? 0;
    if (s.events.length !== this._eventsShown || last !== this._eventsLastTime) {
      this._eventsShown = s.events.length;
      this._eventsLastTime = last;
      this._events.replaceChildren(...s.events.slice(-40).reverse().map((e) => h('li',
        { class: `vg-ev-${e.source}`, title: e.source === 'server' ? 'from the server' : 'in this viewer' },
        `${clock(e.time)} ${e.text}`)));
    }
  }
}
