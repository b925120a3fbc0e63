import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import { readDirectScanout } from '../protocol/InspectorData.ts';
import { h, setText } from './Dom.ts';
import type { SessionView } from './SessionView.ts';

function age(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function clock(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function hot(v: number): string {
  return v === 0xffffffff ? '?' : String(v);
}

/**
 * The inspector: the shown planes (from BUFFER_CREATE of the scanned-out buffer and the cursor
 * messages; the server's direct-scanout verdict from STATS), the mirrored dma-buf cache (id,
 * format, modifier, size, age, scanouts), and the recent events (EVENT messages and the viewer's
 * own).
 */
export class InspectorPanel {
  public readonly element: HTMLElement;
  private readonly _plane = h('pre', { class: 'vg-plane' });
  private readonly _rows = h('tbody');
  private readonly _events = h('ol', { class: 'vg-events' });
  private _view: SessionView | null = null;
  private _eventsShown = -1;
  private _eventsLastTime = 0;

  public constructor() {
    const head = h('tr', {}, ...['id', 'format', 'modifier', 'size', 'stride', 'bytes', 'recv', 'age',
      'flips', ''].map((t) => h('th', {}, t)));
    this.element = h('aside', { class: 'vg-inspector' },
      h('h2', {}, 'Planes'), this._plane,
      h('h2', {}, 'dma-buf cache'), h('table', { class: 'vg-buffers' }, h('thead', {}, head), this._rows),
      h('h2', {}, 'Recent events'), this._events);
  }

  public attach(view: SessionView | null): void {
    this._view = view;
    this._eventsShown = -1;
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
    const lines = [
      `VM        ${s.vm ?? '—'}   (${s.connection.status.state}, renderer ${v.renderer.kind})`,
      p === undefined ? 'primary   none'
        : `primary   buffer ${p.id}: ${p.width}x${p.height} ${formatName(p.drmFormat)} ` +
          `${modifierName(p.modifier)}, stride ${p.stride}, ${p.size} bytes`,
      c === null || cb === undefined ? 'cursor    none'
        : `cursor    buffer ${c.id}: ${cb.width}x${cb.height} ${formatName(cb.drmFormat)} at ` +
          `(${c.x}, ${c.y}), hotspot (${hot(c.hotX)}, ${hot(c.hotY)})`,
      `damage    ${s.lastDamage.map((r) => `${r.width}x${r.height}+${r.x}+${r.y}`).join(' ') || '—'}`,
    ];
    // The server's verdict for the shown primary (from STATS): could a host plane show it as is.
    const direct = p === undefined ? undefined : readDirectScanout(s.stats);
    if (direct !== undefined) lines.push(direct.sentence);
    if (v.rendererNote !== undefined) lines.push(`note      ${v.rendererNote}`);
    setText(this._plane, lines.join('\n'));

    const rows = s.store.list().sort((a, b) => a.id - b.id).map((b) => h('tr',
      { class: b.id === s.primaryId ? 'vg-shown' : undefined },
      ...[String(b.id), formatName(b.drmFormat), modifierName(b.modifier), `${b.width}x${b.height}`,
        String(b.stride), String(b.size), String(b.bytesReceived), age(now - b.createdAt),
        String(b.scanouts),
        b.id === s.primaryId ? 'primary' : b.id === c?.id ? 'cursor' : ''].map((t) => h('td', {}, t))));
    this._rows.replaceChildren(...rows);

    const last = s.events.at(-1)?.time ?? 0;
    if (s.events.length !== this._eventsShown || last !== this._eventsLastTime) {
      this._eventsShown = s.events.length;
      this._eventsLastTime = last;
      this._events.replaceChildren(...s.events.slice(-40).reverse().map((e) => h('li',
        { class: `vg-ev-${e.source}` }, `${clock(e.time)} ${e.source === 'server' ? '⇣' : '·'} ${e.text}`)));
    }
  }
}
