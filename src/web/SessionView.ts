import { Disposable, toDisposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import { Canvas2DRenderer } from './Canvas2DRenderer.ts';
import { h, setText } from './Dom.ts';
import type { IRenderer, PresentView } from './IRenderer.ts';
import { Session } from './Session.ts';
import type { SocketFactory } from './Connection.ts';
import { countdownText } from './Backoff.ts';
import { statusSentence } from './StatusText.ts';
import { backingSize, destRect, effectiveFilter, guestPoint, scaleLabel, wholeFactor } from './Viewport.ts';
import type { FilterMode, ScaleMode } from './Viewport.ts';
import { WebGL2Renderer } from './WebGL2Renderer.ts';
import { StatusCode } from '../protocol/RemoteProtocol.ts';

/** How a tile presents its VM. */
export interface TileOptions {
  scale: ScaleMode;
  filter: FilterMode;
}

/** A status line: `info` (grey) or `error` (red), and the reconnect controls when relevant. */
export interface StatusLine {
  readonly text: string;
  /** The same in a few words, for a small tile. */
  readonly short: string;
  readonly kind: 'info' | 'error';
}

/**
 * One VM tile: its Session, canvas and renderer, the status overlay and the stats line. The
 * tile's area is measured in device pixels (ResizeObserver's device-pixel-content-box, or CSS ×
 * DPR when they disagree: Chromium's DPR emulation). The canvas fills the area, or — when the
 * picture at its whole scale factor is larger (scale off/integer) — is the picture's size and the
 * tile scrolls. Once a SCANOUT's frame is drawn, the next animation frame is its present time.
 */
export class SessionView extends Disposable {
  private readonly _onResize = this._register(new Emitter<{ width: number; height: number }>());
  /** The canvas's device-pixel size changed (for resize=guest). */
  public readonly onResize = this._onResize.event;
  private readonly _onNote = this._register(new Emitter<string>());
  public readonly onNote = this._onNote.event;

  public readonly element: HTMLElement;
  public readonly screen: HTMLElement;
  public readonly session: Session;
  public canvas: HTMLCanvasElement;
  public rendererNote: string | undefined;
  public options: TileOptions;
  private readonly _label: HTMLElement;
  private readonly _status: HTMLElement;
  private readonly _statusText: HTMLElement;
  private readonly _cancel: HTMLButtonElement;
  private readonly _retry: HTMLButtonElement;
  private readonly _error: HTMLElement;
  private readonly _errorText: HTMLElement;
  private readonly _observer: ResizeObserver;
  /** The tile's area in device pixels (0 until measured). */
  private _areaW = 0;
  private _areaH = 0;
  private _raf = 0;
  private _presentRaf = 0;
  private _buttons = 0;
  private readonly _listening = new WeakSet<HTMLCanvasElement>();

  public constructor(url: string, vm: string | undefined, preferred: 'webgl' | 'canvas',
    options: TileOptions, socketFactory?: SocketFactory) {
    super();
    this.options = options;
    this.canvas = h('canvas', { class: 'vg-canvas' });
    this.screen = h('div', { class: 'vg-screen', tabindex: '0' }, this.canvas);
    this._label = h('div', { class: 'vg-label' });
    this._statusText = h('span', { class: 'vg-status-text' });
    this._cancel = h('button', { class: 'vg-cancel', type: 'button' }, 'Cancel');
    this._retry = h('button', { class: 'vg-retry', type: 'button' }, 'Reconnect');
    this._status = h('div', { class: 'vg-status' }, this._statusText, this._cancel, this._retry);
    this._errorText = h('span', { class: 'vg-error-text' });
    const dismiss = h('button', { class: 'vg-dismiss', type: 'button', title: 'Dismiss' }, '✕');
    this._error = h('div', { class: 'vg-error', hidden: true }, this._errorText, dismiss);
    this.element = h('div', { class: 'vg-tile' }, this.screen, this._status, this._error, this._label);

    const renderer = this._createRenderer(preferred);
    this.session = this._register(new Session(url, vm, renderer, socketFactory));
    this._register(this.session.onChange(() => this.invalidate()));
    this._register(this.session.onChange(() => this._updateOverlay()));
    this._watchContextLoss(renderer);

    this._cancel.addEventListener('click', () => this.session.connection.cancel());
    this._retry.addEventListener('click', () => this.session.connection.retryNow());
    dismiss.addEventListener('click', () => this.session.dismissError());

    this._observer = new ResizeObserver((entries) => this._resized(entries));
    this._observe();
    this._register(toDisposable(() => {
      this._observer.disconnect();
      cancelAnimationFrame(this._raf);
      cancelAnimationFrame(this._presentRaf);
      this.session.renderer.dispose();
    }));
    this._listenPointerOn(this.canvas);
    // Ticks the "Reconnecting in 0.5 s" countdown (tenths below a second) and the clock probes.
    const tick = setInterval(() => {
      this._updateOverlay();
      this.session.probeClock();
    }, 100);
    this._register(toDisposable(() => clearInterval(tick)));
    this._updateOverlay();
  }

  public get renderer(): IRenderer {
    return this.session.renderer;
  }

  public start(): void {
    this.session.start();
  }

  /** The present parameters for the current canvas size and options. */
  public view(): PresentView {
    const r = this.renderer;
    const dest = destRect(this.options.scale, r.frameWidth, r.frameHeight, this.canvas.width, this.canvas.height);
    return { dest, filter: effectiveFilter(this.options.filter, dest, r.frameWidth, r.frameHeight) };
  }

  /** The tile's area in device pixels (what a guest resize asks for). */
  public get area(): { width: number; height: number } {
    this._measureFallback();
    return { width: this._areaW, height: this._areaH };
  }

  /** The scale in use, in words ('1:1', '2×', 'fit 0.62×'). */
  public scaleLabel(): string {
    return scaleLabel(this.options.scale, this.view().dest, this.renderer.frameWidth);
  }

  public setOptions(o: TileOptions): void {
    this.options = o;
    this._sizeCanvas();
    this.invalidate();
  }

  /** Schedule a render at the next animation frame. */
  public invalidate(): void {
    if (this._raf !== 0 || this.isDisposed) return;
    this._raf = requestAnimationFrame(() => {
      this._raf = 0;
      this.renderNow();
    });
  }

  /** Present now and read canvas pixel (x, y) in device pixels (tests, diagnostics). */
  public readScreen(x: number, y: number): [number, number, number, number] {
    this._sizeCanvas();
    return this.renderer.readScreen(this.view(), x, y);
  }

  public renderNow(): void {
    const start = performance.timeOrigin + performance.now();
    this._sizeCanvas();
    this.renderer.render(this.view());
    const end = performance.timeOrigin + performance.now();
    this.session.presented();
    // The flip just drawn (its textures are uploaded) is on screen by the next animation frame.
    if (this.session.flipLatency.drawn(start, end, this.renderer.timings) && this._presentRaf === 0) {
      this._presentRaf = requestAnimationFrame(() => {
        this._presentRaf = 0;
        this.session.flipPresented(performance.timeOrigin + performance.now());
      });
    }
  }

  /** The status line the overlay shows, or null when the picture speaks for itself. */
  public statusLine(): StatusLine | null {
    const s = this.session;
    const c = s.connection.status;
    const line = (kind: 'info' | 'error', text: string, short = text): StatusLine => ({ kind, text, short });
    if (c.state === 'connecting') {
      return c.attempt > 0 ? line('info', `Reconnecting (attempt ${c.attempt + 1})…`, 'Reconnecting…')
        : line('info', 'Connecting…');
    }
    if (c.state === 'waiting') {
      const when = countdownText(c.retryInMs);
      const reason = c.reason.charAt(0).toUpperCase() + c.reason.slice(1);
      return line('error', `${reason}. Reconnecting in ${when}…`, `Offline · retry in ${when}`);
    }
    if (c.state === 'cancelled' || c.state === 'disposed') {
      return line('error', c.reason !== '' && c.reason !== 'cancelled'
        ? `Disconnected: ${c.reason}.` : 'Disconnected.', 'Disconnected');
    }
    if (s.helloInfo === undefined) return line('info', 'Connected; waiting for the server…', 'Connected…');
    if (s.vm === undefined) return line('error', 'The server lists no VM to show.', 'No VM');
    if (s.planeProblem !== undefined) return line('error', s.planeProblem, 'Cannot show this plane');
    const code = s.serverStatus.code;
    if (code !== StatusCode.OK && code !== StatusCode.CONNECTING) {
      return line(code === StatusCode.NO_PLANE_YET ? 'info' : 'error', statusSentence(code, s.serverStatus.text),
        code === StatusCode.NO_PLANE_YET ? 'No picture yet' : 'No picture');
    }
    if (s.primaryId === null) {
      return line('info', code === StatusCode.CONNECTING ? statusSentence(code, s.serverStatus.text)
        : 'No picture yet: waiting for the first scanout.', 'No picture yet');
    }
    return null;
  }

  // ---- internals ---------------------------------------------------------------------------

  private _createRenderer(preferred: 'webgl' | 'canvas'): IRenderer {
    if (preferred === 'webgl') {
      const r = WebGL2Renderer.create(this.canvas);
      if (typeof r !== 'string') return r;
      this.rendererNote = `${r}; using the Canvas2D fallback.`;
      // A canvas whose webgl2 request failed may still have no context; start fresh anyway.
      this._replaceCanvas();
    }
    return new Canvas2DRenderer(this.canvas);
  }

  private _watchContextLoss(r: IRenderer): void {
    this._register(r.onContextLoss(() => {
      // A lost context cannot be drawn on: move to a fresh canvas with the CPU renderer.
      this.rendererNote = 'WebGL context lost; using the Canvas2D fallback.';
      const old = this.renderer;
      this._replaceCanvas();
      const next = new Canvas2DRenderer(this.canvas);
      this.session.setRenderer(next);
      old.dispose();
      this._onNote.fire(this.rendererNote);
    }));
  }

  private _replaceCanvas(): void {
    const fresh = h('canvas', { class: 'vg-canvas' });
    if (this.canvas.parentElement !== null) {
      this._observer?.unobserve(this.canvas);
      this.canvas.replaceWith(fresh);
    }
    this.canvas = fresh;
    if (this._observer !== undefined) this._observe();
    this._listenPointerOn(fresh);
  }

  private _observe(): void {
    // The tile's area (not the canvas, which is the picture's size while the tile scrolls).
    try {
      this._observer.observe(this.screen, { box: 'device-pixel-content-box' });
    } catch {
      this._observer.observe(this.screen);
    }
  }

  private _resized(entries: ResizeObserverEntry[]): void {
    for (const e of entries) {
      if (e.target !== this.screen) continue;
      const cb = e.contentBoxSize[0];
      const dp = e.devicePixelContentBoxSize?.[0];
      if (cb === undefined) continue;
      const size = backingSize(cb.inlineSize, cb.blockSize, devicePixelRatio,
        dp === undefined ? undefined : { width: dp.inlineSize, height: dp.blockSize });
      if (size.width === this._areaW && size.height === this._areaH) continue;
      this._areaW = size.width;
      this._areaH = size.height;
      this._onResize.fire(size);
      this.renderNow();
    }
  }

  /** Before the observer's first report: the area from the layout. */
  private _measureFallback(): void {
    if (this._areaW > 0 && this._areaH > 0) return;
    const size = backingSize(this.screen.clientWidth, this.screen.clientHeight, devicePixelRatio);
    this._areaW = size.width;
    this._areaH = size.height;
  }

  /**
   * Backing store: the tile's area in device pixels; or, in scale=off and when the picture at
   * its whole factor does not fit (integer), exactly the picture, its CSS size = that / DPR, and
   * the tile scrolls when it is larger.
   */
  private _sizeCanvas(): void {
    const c = this.canvas;
    const r = this.renderer;
    this._measureFallback();
    let w = this._areaW;
    let hgt = this._areaH;
    const k = wholeFactor(this.options.scale, r.frameWidth, r.frameHeight, w, hgt);
    // off: the canvas is always the guest's size (top-left, like a remote screen without scaling).
    const scroll = k > 0 && r.frameWidth > 0 &&
      (this.options.scale === 'off' || r.frameWidth * k > w || r.frameHeight * k > hgt);
    this.screen.classList.toggle('vg-scroll', scroll);
    if (scroll) {
      w = r.frameWidth * k;
      hgt = r.frameHeight * k;
    }
    const cssW = scroll ? `${w / devicePixelRatio}px` : '';
    const cssH = scroll ? `${hgt / devicePixelRatio}px` : '';
    if (c.style.width !== cssW) c.style.width = cssW;
    if (c.style.height !== cssH) c.style.height = cssH;
    w = Math.max(1, w);
    hgt = Math.max(1, hgt);
    if (c.width !== w) c.width = w;
    if (c.height !== hgt) c.height = hgt;
  }

  private _listenPointerOn(canvas: HTMLCanvasElement): void {
    if (this._listening.has(canvas)) return;
    this._listening.add(canvas);
    const send = (e: PointerEvent): void => {
      if (canvas !== this.canvas) return;
      const r = this.renderer;
      if (r.frameWidth === 0) return;
      const box = canvas.getBoundingClientRect();
      if (box.width <= 0 || box.height <= 0) return;
      const devX = ((e.clientX - box.left) * canvas.width) / box.width;
      const devY = ((e.clientY - box.top) * canvas.height) / box.height;
      const p = guestPoint(this.view().dest, r.frameWidth, r.frameHeight, devX, devY);
      const buttons = e.buttons & 7;
      // Outside the picture only drags (and their release) matter.
      if (!p.inside && buttons === 0 && this._buttons === 0) return;
      this._buttons = buttons;
      this.session.sendPointer(p.x, p.y, buttons);
    };
    canvas.addEventListener('pointermove', send);
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      send(e);
    });
    canvas.addEventListener('pointerup', send);
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  private _updateOverlay(): void {
    const s = this.session;
    const line = this.statusLine();
    this._status.hidden = line === null;
    if (line !== null) {
      // A thumbnail gets the few-word form; the full sentence stays in the tooltip.
      setText(this._statusText, this.element.closest('.vg-strip') !== null ? line.short : line.text);
      this._status.title = line.text;
      this._status.classList.toggle('vg-bad', line.kind === 'error');
    }
    const st = s.connection.status.state;
    // A frame from a connection that is gone is dimmed: it is not live.
    this.element.classList.toggle('vg-stale', st !== 'open' && this.renderer.frameWidth > 0);
    this._cancel.hidden = st !== 'waiting' && !(st === 'connecting' && s.connection.status.attempt > 0);
    this._retry.hidden = st !== 'cancelled' && st !== 'waiting';
    this._error.hidden = s.lastError === undefined;
    setText(this._errorText, s.lastError ?? '');
    const dot = st === 'open' ? '●' : '○';
    setText(this._label, `${dot} ${s.vm ?? '…'}`);
  }
}
