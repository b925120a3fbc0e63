import type { FilterMode, ScaleMode } from './Viewport.ts';

/**
 * Viewer settings. Every one is a URL query parameter named like the `vgpu-display run` CLI flag
 * (noVNC habit), e.g. `/?vm=vm1&scale=fit&filter=nearest&stats=1`.
 */
export interface ViewerSettings {
  /** VM to focus (`--vm`); default: the first VM the server lists. */
  readonly vm: string | undefined;
  /**
   * `integer` (default: the largest whole factor ≥ 1, nearest filtering, scrolling when the guest
   * is larger) | `off` (1:1 device pixels, scrolling) | `fit` (aspect, letterbox: the one
   * fractional scale, only when chosen).
   */
  readonly scale: ScaleMode;
  /** `auto` (default: nearest at whole scale factors, else linear) | `nearest` | `linear`. */
  readonly filter: FilterMode;
  /** `webgl` (default; falls back to canvas when WebGL2 is missing) | `canvas`. */
  readonly renderer: 'webgl' | 'canvas';
  /** Stats overlay shown (`1`) or hidden (`0`, default). */
  readonly stats: boolean;
  /** Inspector panel shown (`1`) or hidden (`0`, default). */
  readonly inspector: boolean;
  /** Access token, sent as the `token` query parameter of the WebSocket URL. */
  readonly token: string | undefined;
  /**
   * `auto` (default): the focused VM's guest follows the viewer's size in device pixels when the
   * server says the VM takes RESIZE; `guest`: ask even when it does not say so; `off`: never.
   */
  readonly resize: ResizeMode;
  /** The escape key (a KeyboardEvent.code), default `ScrollLock`. Never sent to the guest. */
  readonly escape: string;
  /** WebSocket URL, absolute or relative to the page; default `ws` (→ ws://host/…/ws). */
  readonly ws: string;
  /** Show every VM the server lists as tiles (`1`, default) or only the focused one (`0`). */
  readonly grid: boolean;
}

export type ResizeMode = 'auto' | 'guest' | 'off';

export const DEFAULT_SETTINGS: ViewerSettings = {
  vm: undefined, scale: 'integer', filter: 'auto', renderer: 'webgl', stats: false,
  inspector: false, token: undefined, resize: 'auto', escape: 'ScrollLock', ws: 'ws', grid: true,
};

/** Escape keys offered in the toolbar (any KeyboardEvent.code works through `?escape=`). */
export const ESCAPE_CHOICES: readonly { code: string; label: string }[] = [
  { code: 'ScrollLock', label: 'ScrollLock' },
  { code: 'Pause', label: 'Pause' },
  { code: 'ControlRight', label: 'Right Ctrl' },
  { code: 'AltRight', label: 'Right Alt' },
  { code: 'Insert', label: 'Insert' },
  { code: 'F12', label: 'F12' },
];

/**
 * Guest resize limits in device pixels. Below 640×480 a desktop is unusable (and VESA's smallest
 * mode); the upper bound here only guards the wire (u16) — the VMM clamps to the EDID maximum.
 */
export const RESIZE_MIN = { width: 640, height: 480 } as const;
export const RESIZE_MAX = { width: 8192, height: 8192 } as const;

/** The size to ask the guest for, for an area of `w`×`h` device pixels. */
export function resizeTarget(w: number, h: number): { width: number; height: number } {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.floor(v)));
  return { width: clamp(w, RESIZE_MIN.width, RESIZE_MAX.width), height: clamp(h, RESIZE_MIN.height, RESIZE_MAX.height) };
}

const SCALES: readonly ScaleMode[] = ['off', 'fit', 'integer'];
const FILTERS: readonly FilterMode[] = ['auto', 'nearest', 'linear'];

function bool(v: string): boolean | undefined {
  const s = v.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  return undefined;
}

function pick<T extends string>(v: string, allowed: readonly T[]): T | undefined {
  return (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

/** Settings from a query string; bad values keep the default and add a warning. Never throws. */
export function parseSettings(search: string): { settings: ViewerSettings; warnings: string[] } {
  const q = new URLSearchParams(search);
  const warnings: string[] = [];
  const s: { -readonly [K in keyof ViewerSettings]: ViewerSettings[K] } = { ...DEFAULT_SETTINGS };
  const get = <T>(name: string, parse: (v: string) => T | undefined, set: (v: T) => void): void => {
    const raw = q.get(name);
    if (raw === null) return;
    const v = parse(raw);
    if (v === undefined) warnings.push(`ignored ${name}=${raw}`);
    else set(v);
  };
  get('vm', (v) => (v.length > 0 && v.length <= 64 ? v : undefined), (v) => { s.vm = v; });
  get('scale', (v) => pick(v, SCALES), (v) => { s.scale = v; });
  get('filter', (v) => pick(v, FILTERS), (v) => { s.filter = v; });
  get('renderer', (v) => pick(v, ['webgl', 'canvas'] as const), (v) => { s.renderer = v; });
  get('stats', bool, (v) => { s.stats = v; });
  get('inspector', bool, (v) => { s.inspector = v; });
  get('token', (v) => v, (v) => { s.token = v; });
  get('resize', (v) => pick(v, ['auto', 'off', 'guest'] as const), (v) => { s.resize = v; });
  get('escape', (v) => (/^[A-Za-z0-9]{1,32}$/.test(v) ? v : undefined), (v) => { s.escape = v; });
  get('ws', (v) => (v.length > 0 ? v : undefined), (v) => { s.ws = v; });
  get('grid', bool, (v) => { s.grid = v; });
  return { settings: s, warnings };
}

/** The query string for `s`, listing only what differs from the defaults (for the address bar), no token. */
export function settingsToSearch(s: ViewerSettings): string {
  const q = new URLSearchParams();
  const d = DEFAULT_SETTINGS;
  if (s.vm !== undefined) q.set('vm', s.vm);
  if (s.scale !== d.scale) q.set('scale', s.scale);
  if (s.filter !== d.filter) q.set('filter', s.filter);
  if (s.renderer !== d.renderer) q.set('renderer', s.renderer);
  if (s.stats !== d.stats) q.set('stats', s.stats ? '1' : '0');
  if (s.inspector !== d.inspector) q.set('inspector', s.inspector ? '1' : '0');
  // Never the token: it stays out of the address bar and history (TokenStore keeps it).
  if (s.resize !== d.resize) q.set('resize', s.resize);
  if (s.escape !== d.escape) q.set('escape', s.escape);
  if (s.ws !== d.ws) q.set('ws', s.ws);
  if (s.grid !== d.grid) q.set('grid', s.grid ? '1' : '0');
  const t = q.toString();
  return t.length > 0 ? `?${t}` : '';
}

/**
 * The WebSocket URL for the page at `pageUrl`: `ws` resolved against the page with http(s) →
 * ws(s), plus `token` when set.
 */
export function webSocketUrl(s: ViewerSettings, pageUrl: string): string {
  const u = new URL(s.ws, pageUrl);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (s.token !== undefined) u.searchParams.set('token', s.token);
  return u.toString();
}
