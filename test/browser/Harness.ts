/** Shared plumbing of the browser tests: a page on the fake server and readbacks through hooks. */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FakeServer } from './FakeServer.ts';

export interface ViewerState {
  renderer: 'webgl' | 'canvas';
  rendererNote: string | null;
  connection: string;
  attempt: number;
  vm: string | null;
  vms: string[];
  primaryId: number | null;
  cursor: { id: number; x: number; y: number; hotX: number; hotY: number } | null;
  frameWidth: number;
  frameHeight: number;
  canvasWidth: number;
  canvasHeight: number;
  cssWidth: number;
  cssHeight: number;
  dest: { x: number; y: number; width: number; height: number };
  filter: string;
  presents: number;
  flips: number;
  frames: number;
  errors: number;
  lastError: string | null;
  status: string | null;
  statusKind: string | null;
  heldKeys: number[];
  bytesReceived: number;
  buffers: number[];
  events: string[];
  scale: string;
  areaWidth: number;
  areaHeight: number;
  devicePixelRatio: number;
  resizeSent: string | null;
  flipToPresentP50: number | null;
  flipToPresentP99: number | null;
  flipsPresented: number;
  flipsDropped: number;
  flipWireP50: number | null;
  clockOffset: number | null;
  stale: boolean;
  statsText: string | null;
}

export interface OpenOptions {
  params?: Record<string, string>;
  /** null: no emulation, the window size and DPR come from the browser's flags. */
  viewport?: { width: number; height: number } | null;
  /** Make getContext('webgl2') return null (a browser without WebGL2). */
  noWebGL2?: boolean;
  /** Chromium's DPR emulation (the page sees devicePixelRatio = this). */
  deviceScaleFactor?: number;
  /** requestAnimationFrame never fires: the page is never presented (a busy or hidden tab). */
  noAnimationFrames?: boolean;
}

/**
 * How long a wait on the viewer's state may take before it fails with what it saw: a guard
 * against a hang, never a speed assertion, so it is generous for a loaded machine.
 */
export const WAIT_GUARD_MS = 60_000;

export class ViewerPage {
  /** Uncaught exceptions in the page: every test asserts there are none. */
  public readonly pageErrors: string[] = [];

  private constructor(public readonly context: BrowserContext, public readonly page: Page) {
    page.on('pageerror', (e) => this.pageErrors.push(String(e)));
  }

  /** `server`: the fake server, or anything serving the viewer at `url` (the real lab). */
  public static async open(browser: Browser, server: { readonly url: string }, o: OpenOptions = {}): Promise<ViewerPage> {
    // Emulated device scale factors do not reach ResizeObserver's device-pixel-content-box in
    // Chromium (the viewer falls back to CSS × DPR then); --force-device-scale-factor with
    // viewport null is the real thing.
    const context = await browser.newContext(o.viewport === null ? { viewport: null, acceptDownloads: true }
      : { viewport: o.viewport ?? { width: 1000, height: 700 }, acceptDownloads: true, deviceScaleFactor: o.deviceScaleFactor });
    if (o.noWebGL2 === true) {
      await context.addInitScript(() => {
        const orig = HTMLCanvasElement.prototype.getContext;
        HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement, type: string, ...rest: unknown[]) {
          if (type === 'webgl2') return null;
          return (orig as (...a: unknown[]) => unknown).call(this, type, ...rest);
        } as typeof orig;
      });
    }
    if (o.noAnimationFrames === true) {
      await context.addInitScript(() => {
        window.requestAnimationFrame = () => 0;
      });
    }
    const page = await context.newPage();
    const v = new ViewerPage(context, page);
    const q = new URLSearchParams({ grid: '0', ...o.params }).toString();
    await page.goto(`${server.url}?${q}`);
    return v;
  }

  public async state(): Promise<ViewerState> {
    return this.page.evaluate(() => (window as unknown as { __vgpu: { state(): ViewerState } }).__vgpu.state());
  }

  /**
   * Wait until `pred` (an expression over the state `s`) holds. It is evaluated here, not in the
   * page: the lab server's CSP (script-src 'self') forbids evaluating strings there. Between
   * reads the page gets an animation frame.
   */
  public async waitFor(pred: string, timeout = WAIT_GUARD_MS): Promise<void> {
    const test = new Function('s', `return (${pred});`) as (s: ViewerState) => boolean;
    const deadline = Date.now() + timeout;
    let s: ViewerState | undefined;
    let error: unknown;
    for (;;) {
      try {
        s = await this.state();
        if (test(s)) return;
      } catch (e) {
        error = e;
      }
      if (Date.now() > deadline) {
        throw new Error(`viewer never reached ${pred}${error === undefined ? '' : ` (${String(error)})`}\n` +
          `state: ${JSON.stringify(s)}`);
      }
      await this.page.evaluate(() => new Promise<void>((resolve) => {
        requestAnimationFrame(() => resolve());
        setTimeout(resolve, 50); // rAF does not run in a hidden page
      })).catch(() => {});
    }
  }

  /** The composed frame at guest resolution. */
  public async snapshot(): Promise<{ width: number; height: number; rgba: Uint8Array }> {
    const s = await this.page.evaluate(() => (window as unknown as {
      __vgpu: { snapshot(): { width: number; height: number; rgba: string } | null } }).__vgpu.snapshot());
    if (s === null) throw new Error('no snapshot: nothing shown');
    return { width: s.width, height: s.height, rgba: new Uint8Array(Buffer.from(s.rgba, 'base64')) };
  }

  public async screenPixel(x: number, y: number): Promise<number[]> {
    return this.page.evaluate(([px, py]) => (window as unknown as {
      __vgpu: { screenPixel(x: number, y: number): number[] } }).__vgpu.screenPixel(px!, py!), [x, y]);
  }

  public async close(): Promise<void> {
    await this.context.close();
  }
}

export function pixelAt(img: { width: number; rgba: Uint8Array }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return [...img.rgba.subarray(i, i + 4)];
}

/** First differing pixel of two RGBA frames, or undefined when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array, width: number): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const p = i >> 2;
      return `pixel (${p % width}, ${Math.floor(p / width)}): got ${[...a.subarray(p * 4, p * 4 + 4)]}, ` +
        `expected ${[...b.subarray(p * 4, p * 4 + 4)]}`;
    }
  }
  return undefined;
}

export { FakeServer };
