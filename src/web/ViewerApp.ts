import { Disposable, toDisposable } from '../base/Disposable.ts';
import { encodePng } from '../render/Png.ts';
import type { SocketFactory } from './Connection.ts';
import { h, setText } from './Dom.ts';
import { FLIP_PARTS } from './FlipLatency.ts';
import { InspectorPanel } from './InspectorPanel.ts';
import { ESCAPE_BINDINGS, KeyboardInput } from './KeyboardInput.ts';
import { SEND_KEY_COMBOS } from './KeyCodes.ts';
import { SessionView } from './SessionView.ts';
import { ESCAPE_CHOICES, resizeTarget, settingsToSearch, webSocketUrl } from './Settings.ts';
import type { ResizeMode, ViewerSettings } from './Settings.ts';
import { StatsOverlay } from './StatsOverlay.ts';
import type { FilterMode, ScaleMode } from './Viewport.ts';

/** The Keyboard Lock API (Chromium, fullscreen only); not in TypeScript's DOM library. */
interface KeyboardLock {
  lock?(codes?: string[]): Promise<void>;
  unlock?(): void;
}

/** Resize requests wait for the window to settle (a drag-resize sends one request, not fifty). */
const RESIZE_DEBOUNCE_MS = 400;

/** What the last screenshot was (also for tests). */
export interface ScreenshotInfo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly png: Uint8Array;
}

function bytesToBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * The viewer page: a toolbar, the focused VM large, the other VMs as tiles, the stats overlay,
 * the inspector and the escape-key help. Settings live in the URL (same names as CLI flags).
 */
export class ViewerApp extends Disposable {
  public readonly element: HTMLElement;
  public settings: ViewerSettings;
  public lastScreenshot: ScreenshotInfo | undefined;
  private readonly _url: string;
  private readonly _views = new Map<string, SessionView>();
  private _focused: SessionView;
  private readonly _stage: HTMLElement;
  private readonly _strip: HTMLElement;
  private readonly _note: HTMLElement;
  private readonly _help: HTMLElement;
  private readonly _stats = new StatsOverlay();
  private readonly _inspector = new InspectorPanel();
  private readonly _keyboard: KeyboardInput;
  private readonly _controls: {
    sendKey: HTMLSelectElement; scale: HTMLSelectElement; filter: HTMLSelectElement;
    resize: HTMLSelectElement; escape: HTMLSelectElement; stats: HTMLButtonElement;
    inspector: HTMLButtonElement;
  };
  private readonly _scaleShown: HTMLElement;
  private readonly _helpTitle: HTMLElement;
  private _resizeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last size asked of each VM's guest (not asked again until the area changes). */
  private readonly _resizeSent = new Map<string, string>();
  private _inspectorRaf = 0;

  public constructor(root: HTMLElement, settings: ViewerSettings, warnings: readonly string[],
    pageUrl: string, private readonly _socketFactory?: SocketFactory) {
    super();
    this.settings = settings;
    this._url = webSocketUrl(settings, pageUrl);

    const option = (value: string, label: string, selected: boolean): HTMLOptionElement =>
      h('option', { value, selected }, label);
    const sendKey = h('select', { id: 'vg-sendkey', title: 'Send a key combination to the guest' },
      option('', 'Send key…', true),
      ...SEND_KEY_COMBOS.map((c) => option(c.label, c.label, false)));
    const scaleNames: Record<ScaleMode, string> = { integer: 'whole ×', off: '1:1', fit: 'fit' };
    const scale = h('select', { id: 'vg-scale', title: 'Scale: whole factors ≥ 1 (crisp), 1:1, or fit (blurs)' },
      ...(['integer', 'off', 'fit'] as const).map((m) => option(m, scaleNames[m], m === settings.scale)));
    this._scaleShown = h('span', { id: 'vg-scale-shown', class: 'vg-scale-shown', title: 'Scale in use' }, '—');
    const filter = h('select', { id: 'vg-filter', title: 'Filter: auto = nearest at whole factors' },
      ...(['auto', 'nearest', 'linear'] as const).map((f) => option(f, f, f === settings.filter)));
    const resizeNames: Record<ResizeMode, string> = { auto: 'resize auto', guest: 'resize on', off: 'resize off' };
    const resize = h('select', { id: 'vg-resize', title: 'Guest follows the viewer size (auto: when the VM can)' },
      ...(['auto', 'guest', 'off'] as const).map((m) => option(m, resizeNames[m], m === settings.resize)));
    const known = ESCAPE_CHOICES.some((c) => c.code === settings.escape);
    const escape = h('select', { id: 'vg-escape', title: 'Escape key: hold it for the bindings; never sent to the guest' },
      ...(known ? [] : [option(settings.escape, `esc ${settings.escape}`, true)]),
      ...ESCAPE_CHOICES.map((c) => option(c.code, `esc ${c.label}`, c.code === settings.escape)));
    const fullscreen = h('button', { id: 'vg-fullscreen', type: 'button', title: 'Fullscreen (escape key + F)' }, 'Full');
    const shot = h('button', { id: 'vg-screenshot', type: 'button', title: 'PNG at guest resolution' }, 'Shot');
    const stats = h('button', { id: 'vg-stats-toggle', type: 'button', 'aria-pressed': String(settings.stats) }, 'Stats');
    const inspector = h('button', { id: 'vg-inspector-toggle', type: 'button', 'aria-pressed': String(settings.inspector) },
      'Inspector');
    const helpButton = h('button', { id: 'vg-help-toggle', type: 'button', title: 'Keyboard help' }, '?');
    this._controls = { sendKey, scale, filter, resize, escape, stats, inspector };
    this._note = h('span', { id: 'vg-note', class: 'vg-note' }, warnings.join('; '));
    const toolbar = h('header', { class: 'vg-toolbar' },
      h('strong', { class: 'vg-title' }, 'vgpu-display'), sendKey, scale, this._scaleShown, filter, resize, escape,
      fullscreen, shot, stats, inspector, helpButton, this._note);

    this._helpTitle = h('h2', {}, `Escape key: ${settings.escape}`);
    this._help = h('div', { class: 'vg-help', hidden: true }, this._helpTitle,
      h('table', {}, ...ESCAPE_BINDINGS.map(([k, what]) => h('tr', {},
        h('td', {}, k === 'alone' ? 'tap alone' : `+ ${k}`), h('td', {}, what)))));
    this._stage = h('main', { class: 'vg-stage' });
    this._strip = h('nav', { class: 'vg-strip' });
    this._stats.element.hidden = !settings.stats;
    this._inspector.element.hidden = !settings.inspector;
    this.element = h('div', { class: 'vg-app' }, toolbar,
      h('div', { class: 'vg-body' }, this._stage, this._strip), this._help);
    root.replaceChildren(this.element);

    this._keyboard = new KeyboardInput((code, down) => this._focused.session.sendKey(code, down), {
      release: () => this._releaseKeyboard(),
      fullscreen: () => void this.toggleFullscreen(),
      toggleStats: () => this._toggleStats(),
      toggleInspector: () => this._toggleInspector(),
      screenshot: () => void this.screenshot(),
      reconnect: () => this._focused.session.connection.retryNow(),
      showHelp: (show) => { this._help.hidden = !show; },
    }, settings.escape);

    this._focused = this._addView(settings.vm);
    this._focus(this._focused);

    sendKey.addEventListener('change', () => {
      const combo = SEND_KEY_COMBOS.find((c) => c.label === sendKey.value);
      sendKey.value = '';
      if (combo === undefined) return;
      this._keyboard.sendCombo(combo.codes);
      this._focused.session.note(`sent ${combo.label}`);
    });
    scale.addEventListener('change', () => this._update({ scale: scale.value as ScaleMode }));
    filter.addEventListener('change', () => this._update({ filter: filter.value as FilterMode }));
    resize.addEventListener('change', () => {
      this._update({ resize: resize.value as ResizeMode });
      this._resizeSent.clear();
      this._scheduleResize();
    });
    escape.addEventListener('change', () => {
      this._keyboard.releaseAll();
      this._keyboard.escapeCode = escape.value;
      setText(this._helpTitle, `Escape key: ${escape.value}`);
      this._update({ escape: escape.value });
    });
    fullscreen.addEventListener('click', () => void this.toggleFullscreen());
    shot.addEventListener('click', () => void this.screenshot());
    stats.addEventListener('click', () => this._toggleStats());
    inspector.addEventListener('click', () => this._toggleInspector());
    helpButton.addEventListener('click', () => { this._help.hidden = !this._help.hidden; });
    // Keys reach the guest only while the picture has focus. A toolbar control keeps it after
    // use, so the next keystrokes would be the page's (a focused <select> even picks entries by
    // type-ahead): give the keyboard back to the picture once a control has done its job.
    toolbar.addEventListener('change', () => this._focused.screen.focus());
    toolbar.addEventListener('click', (e) => {
      if (e.target instanceof Element && e.target.closest('button') !== null) this._focused.screen.focus();
    });

    this._listenKeyboard();
    const tick = setInterval(() => {
      this._stats.tick();
      this._inspector.refresh();
      setText(this._scaleShown, this._focused.scaleLabel());
    }, 1000);
    this._register(toDisposable(() => clearInterval(tick)));
    this._register(toDisposable(() => { for (const v of this._views.values()) v.dispose(); }));
  }

  public get focused(): SessionView {
    return this._focused;
  }

  public get keyboard(): KeyboardInput {
    return this._keyboard;
  }

  public start(): void {
    for (const v of this._views.values()) v.start();
  }

  /** Fullscreen with Keyboard Lock, so Esc and Ctrl+Alt+Fn reach the guest (Chromium). */
  public async toggleFullscreen(): Promise<void> {
    try {
      if (document.fullscreenElement !== null) {
        await document.exitFullscreen();
        return;
      }
      await this.element.requestFullscreen({ navigationUI: 'hide' });
      const kb = (navigator as { keyboard?: KeyboardLock }).keyboard;
      await kb?.lock?.();
      this._focused.screen.focus();
    } catch (e) {
      this._focused.session.note(`fullscreen refused: ${String(e)}`);
    }
  }

  /** Save the composed planes as a PNG at guest resolution (no dialog, auto-named). */
  public async screenshot(): Promise<ScreenshotInfo | undefined> {
    const v = this._focused;
    const img = v.renderer.snapshot();
    if (img === null) {
      v.session.note('screenshot: nothing to capture yet');
      return undefined;
    }
    const png = encodePng(img.rgba, img.width, img.height);
    const d = new Date();
    const p = (n: number): string => String(n).padStart(2, '0');
    const name = `${v.session.vm ?? 'vm'}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-` +
      `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.png`;
    const url = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    this.lastScreenshot = { name, width: img.width, height: img.height, png };
    v.session.note(`screenshot ${name} (${img.width}x${img.height})`);
    return this.lastScreenshot;
  }

  /** Test hooks: `window.__vgpu` (state, pixels, snapshots). */
  public testHooks(): Record<string, unknown> {
    const view = (): SessionView => this._focused;
    return {
      state: () => {
        const v = view();
        const s = v.session;
        const line = v.statusLine();
        return {
          renderer: v.renderer.kind, rendererNote: v.rendererNote ?? null,
          connection: s.connection.status.state, attempt: s.connection.status.attempt,
          vm: s.vm ?? null, vms: [...this._views.keys()], focused: s.vm ?? null,
          primaryId: s.primaryId, cursor: s.cursor, frameWidth: v.renderer.frameWidth,
          frameHeight: v.renderer.frameHeight, canvasWidth: v.canvas.width, canvasHeight: v.canvas.height,
          cssWidth: v.canvas.getBoundingClientRect().width, cssHeight: v.canvas.getBoundingClientRect().height,
          dest: v.view().dest, filter: v.view().filter, presents: s.counters.presents,
          flips: s.counters.flips, frames: s.counters.frames, errors: s.counters.errors,
          lastError: s.lastError ?? null, status: line?.text ?? null, statusKind: line?.kind ?? null,
          heldKeys: this._keyboard.held, bytesReceived: s.connection.bytesReceived,
          buffers: s.store.list().map((b) => b.id), events: s.events.map((e) => e.text),
          scale: v.scaleLabel(), areaWidth: v.area.width, areaHeight: v.area.height,
          devicePixelRatio, resizeSent: this._resizeSent.get(s.vm ?? '') ?? null,
          flipToPresentP50: s.flipLatency.quantile(0.5) ?? null, flipToPresentP99: s.flipLatency.quantile(0.99) ?? null,
          flipsPresented: s.flipLatency.presented, flipsDropped: s.flipLatency.dropped,
          flipWireP50: s.flipLatency.wireQuantile(0.5) ?? null,
          clockOffset: s.clock.offset ?? null, stale: v.element.classList.contains('vg-stale'),
          statsText: this._stats.element.hidden ? null : this._stats.element.textContent,
        };
      },
      /**
       * Flip → present of the focused view since the last `clearFlipFigures`: counts, p50/p99 of
       * the total and of each part (FLIP_PARTS), ms. For the bench.
       */
      flipFigures: () => {
        const f = view().session.flipLatency;
        const q = (get: (q: number) => number | undefined) => ({ p50: get(0.5) ?? null, p99: get(0.99) ?? null });
        return {
          presented: f.presented, dropped: f.dropped, samples: f.samples,
          total: q((x) => f.quantile(x)),
          parts: Object.fromEntries(FLIP_PARTS.map((p) => [p, q((x) => f.partQuantile(p, x))])),
          clockRtt: view().session.clock.rtt ?? null,
        };
      },
      clearFlipFigures: () => view().session.flipLatency.clear(),
      /** Every tile (the focused one too): what its overlay says and what it shows. */
      tiles: () => [...this._views.values()].map((v) => ({
        vm: v.session.vm ?? null, focused: v === this._focused, primaryId: v.session.primaryId,
        frameWidth: v.renderer.frameWidth, canvasWidth: v.canvas.width, canvasHeight: v.canvas.height,
        status: v.statusLine()?.short ?? null, serverStatus: v.session.serverStatus.code,
      })),
      /** Composed guest pixel (x, y) at native resolution. */
      readPixel: (x: number, y: number) => {
        const img = view().renderer.snapshot();
        if (img === null || x < 0 || y < 0 || x >= img.width || y >= img.height) return null;
        const i = (y * img.width + x) * 4;
        return [...img.rgba.subarray(i, i + 4)];
      },
      /** The whole composed frame: { width, height, rgba (base64) }. */
      snapshot: () => {
        const img = view().renderer.snapshot();
        return img === null ? null : { width: img.width, height: img.height, rgba: bytesToBase64(img.rgba) };
      },
      /** A canvas pixel in device pixels, as presented. */
      screenPixel: (x: number, y: number) => view().readScreen(x, y),
      screenshot: async () => {
        const s = await this.screenshot();
        return s === undefined ? null : { name: s.name, width: s.width, height: s.height, png: bytesToBase64(s.png) };
      },
      focus: (vm: string) => {
        const v = this._views.get(vm);
        if (v !== undefined) this._focus(v);
        return v !== undefined;
      },
      loseContext: () => {
        const gl = view().canvas.getContext('webgl2');
        gl?.getExtension('WEBGL_lose_context')?.loseContext();
      },
    };
  }

  // ---- internals ---------------------------------------------------------------------------

  private _addView(vm: string | undefined): SessionView {
    const v = new SessionView(this._url, vm, this.settings.renderer, { scale: 'fit', filter: 'auto' },
      this._socketFactory);
    this._views.set(vm ?? '', v);
    if (v.rendererNote !== undefined) this._setNote(v.rendererNote);
    v.onNote((n) => this._setNote(n));
    v.session.onVms((vms) => {
      this._vmsListed(v, vms);
      // A (re)attach: the guest may have been restored to its own mode meanwhile.
      this._resizeSent.delete(v.session.vm ?? '');
      if (v === this._focused) this._scheduleResize();
    });
    v.session.onChange(() => this._scheduleInspector());
    v.session.onChange(() => { if (v === this._focused) setText(this._scaleShown, v.scaleLabel()); });
    v.onResize(() => {
      if (v !== this._focused) return;
      this._scheduleResize();
      setText(this._scaleShown, v.scaleLabel());
    });
    v.element.addEventListener('pointerdown', (e) => {
      if (v === this._focused) return;
      // No mousedown follows, so the focus _focus gives the picture is not taken away again.
      e.preventDefault();
      this._focus(v);
    });
    v.screen.addEventListener('pointerdown', () => v.screen.focus());
    // Keys held when the viewer loses focus would stay down in the guest: release them.
    v.screen.addEventListener('focusout', () => this._keyboard.releaseAll());
    return v;
  }

  private _vmsListed(from: SessionView, vms: string[]): void {
    // The first view may have started without a name; file it under the VM it attached to.
    for (const [k, v] of this._views) {
      if (v === from && k === '' && from.session.vm !== undefined) {
        this._views.delete('');
        this._views.set(from.session.vm, from);
        if (from === this._focused) this._syncUrl();
      }
    }
    if (!this.settings.grid) return;
    for (const vm of vms) {
      if (this._views.has(vm)) continue;
      const v = this._addView(vm);
      this._strip.append(v.element);
      v.start();
    }
  }

  private _focus(v: SessionView): void {
    const old = this._focused;
    if (old !== v) this._keyboard.releaseAll();
    this._focused = v;
    for (const other of this._views.values()) {
      if (other === v) continue;
      other.element.classList.remove('vg-focused');
      if (other.element.parentElement !== this._strip) this._strip.append(other.element);
      other.setOptions({ scale: 'fit', filter: 'auto' });
    }
    v.element.classList.add('vg-focused');
    // The inspector is a drawer over the focused picture's right edge (the tiles stay clickable).
    if (v.element.parentElement !== this._stage) {
      this._stage.replaceChildren(v.element, this._stats.element, this._inspector.element);
    }
    v.setOptions({ scale: this.settings.scale, filter: this.settings.filter });
    this._scheduleResize();
    // The focused VM's picture takes the keyboard (also on page load: no click needed).
    v.screen.focus({ preventScroll: true });
    this._stats.attach(v);
    this._inspector.attach(v);
    this._syncUrl();
  }

  private _update(patch: Partial<ViewerSettings>): void {
    this.settings = { ...this.settings, ...patch };
    this._focused.setOptions({ scale: this.settings.scale, filter: this.settings.filter });
    setText(this._scaleShown, this._focused.scaleLabel());
    this._syncUrl();
  }

  private _syncUrl(): void {
    const s = { ...this.settings, vm: this._focused.session.vm ?? this.settings.vm };
    this.settings = s;
    const url = `${location.pathname}${settingsToSearch(s)}${location.hash}`;
    try {
      history.replaceState(null, '', url);
    } catch {
      // Some embedders forbid history changes; the URL is a convenience only.
    }
  }

  private _setNote(text: string): void {
    setText(this._note, text);
  }

  private _toggleStats(): void {
    this._stats.element.hidden = !this._stats.element.hidden;
    this._controls.stats.setAttribute('aria-pressed', String(!this._stats.element.hidden));
    this._update({ stats: !this._stats.element.hidden });
    this._stats.tick();
  }

  private _toggleInspector(): void {
    this._inspector.element.hidden = !this._inspector.element.hidden;
    this._controls.inspector.setAttribute('aria-pressed', String(!this._inspector.element.hidden));
    this._update({ inspector: !this._inspector.element.hidden });
    this._inspector.refresh();
  }

  private _scheduleInspector(): void {
    if (this._inspectorRaf !== 0 || this._inspector.element.hidden) return;
    this._inspectorRaf = requestAnimationFrame(() => {
      this._inspectorRaf = 0;
      this._inspector.refresh();
    });
  }

  /**
   * Ask the focused VM's guest for the viewer's size (device pixels, ≥ 640×480), once the window
   * has settled. Thumbnails never resize their guest; a size already asked for is not asked again.
   */
  private _scheduleResize(): void {
    if (this.settings.resize === 'off') return;
    clearTimeout(this._resizeTimer);
    this._resizeTimer = setTimeout(() => {
      const v = this._focused;
      const s = v.session;
      if (s.vm === undefined || s.connection.status.state !== 'open' || s.helloInfo === undefined) return;
      if (this.settings.resize === 'auto' && !s.canResize) return;
      const area = v.area;
      if (area.width <= 1 || area.height <= 1) return;
      const t = resizeTarget(area.width, area.height);
      const key = `${t.width}x${t.height}`;
      if (this._resizeSent.get(s.vm) === key) return;
      this._resizeSent.set(s.vm, key);
      if (v.renderer.frameWidth === t.width && v.renderer.frameHeight === t.height) return;
      s.sendResize(t.width, t.height);
    }, RESIZE_DEBOUNCE_MS);
  }

  private _releaseKeyboard(): void {
    this._keyboard.releaseAll();
    (navigator as { keyboard?: KeyboardLock }).keyboard?.unlock?.();
    if (document.fullscreenElement !== null) void document.exitFullscreen().catch(() => {});
    this._focused.screen.blur();
  }

  private _listenKeyboard(): void {
    const mine = (): boolean => {
      const a = document.activeElement;
      return a !== null && this._focused.screen.contains(a);
    };
    const down = (e: KeyboardEvent): void => {
      if (!mine() || e.isComposing) return;
      if (this._keyboard.keydown(e.code, e.repeat)) {
        e.preventDefault();
        e.stopPropagation();
      }
    };
    const up = (e: KeyboardEvent): void => {
      if (this._keyboard.keyup(e.code)) {
        e.preventDefault();
        e.stopPropagation();
      }
    };
    const blur = (): void => this._keyboard.releaseAll();
    const hidden = (): void => { if (document.visibilityState === 'hidden') this._keyboard.releaseAll(); };
    const fs = (): void => {
      if (document.fullscreenElement === null) (navigator as { keyboard?: KeyboardLock }).keyboard?.unlock?.();
    };
    window.addEventListener('keydown', down, true);
    window.addEventListener('keyup', up, true);
    window.addEventListener('blur', blur);
    document.addEventListener('visibilitychange', hidden);
    document.addEventListener('fullscreenchange', fs);
    this._register(toDisposable(() => {
      window.removeEventListener('keydown', down, true);
      window.removeEventListener('keyup', up, true);
      window.removeEventListener('blur', blur);
      document.removeEventListener('visibilitychange', hidden);
      document.removeEventListener('fullscreenchange', fs);
    }));
  }
}
