import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import type { RefreshPolicy } from '../display/DisplayStats.ts';
import { Lab } from '../lab/Lab.ts';
import { CHROMIUM, launchChromium } from '../testkit/node/Chromium.ts';
import {
  BROWSER_PARTS, type BrowserBenchOptions, type BrowserBenchResult, type BrowserFigures, type BrowserPart, type Quantiles,
} from './BrowserFigures.ts';
import { spread } from './Stats.ts';

/** Chromium's own frame pacing off: animation frames as fast as they are produced. */
const UNTHROTTLED_ARGS = ['--disable-frame-rate-limit', '--disable-gpu-vsync'];

/** What the page's `__vgpu.flipFigures()` returns (src/web/ViewerApp.ts). */
interface PageFigures {
  presented: number;
  dropped: number;
  samples: number;
  total: { p50: number | null; p99: number | null };
  parts: Record<BrowserPart, { p50: number | null; p99: number | null }>;
  clockRtt: number | null;
}

interface PageState {
  renderer: string;
  bytesReceived: number;
  frameWidth: number;
  frameHeight: number;
  flipsPresented: number;
  flipToPresentP50: number | null;
}

interface Hooks {
  __vgpu: { state(): PageState; flipFigures(): PageFigures; clearFlipFigures(): void };
}

/** How long a wait on the lab or the page may take before the bench gives up (a guard). */
const GUARD_MS = 120_000;

/**
 * The browser section: the lab (one gvt VM, its desktop animated by flip-demo: a flip per
 * vblank) with the given refresh policy, and Debian's Chromium (headless, SwiftShader WebGL2)
 * showing it with the viewer's defaults. The viewer measures each flip's vblank → present on its
 * own clock (SCANOUT carries the vblank IRQ's host time; PING/PONG gives the offset) and the parts
 * in between; each window starts from cleared figures and reads them at its end.
 */
export async function runBrowserBench(o: BrowserBenchOptions): Promise<BrowserBenchResult> {
  const runs: Array<{ policy: RefreshPolicy; frames: 'vsync' | 'unthrottled' }> = o.policies.map((policy) => ({ policy, frames: 'vsync' }));
  if (o.unthrottled && o.policies.includes('dirty')) runs.push({ policy: 'dirty', frames: 'unthrottled' });
  const figures: BrowserFigures[] = [];
  let browser: Browser | undefined;
  let browserFrames: 'vsync' | 'unthrottled' | undefined;
  try {
    for (const run of runs) {
      if (browserFrames !== run.frames) {
        await browser?.close();
        browser = await launchChromium(run.frames === 'unthrottled' ? UNTHROTTLED_ARGS : []);
        browserFrames = run.frames;
      }
      figures.push(await measurePolicy(browser!, run.policy, run.frames, o));
    }
    o.log(`  browser: a bare WebSocket page's intake (${o.intakeMB} MB)…`);
    const intakeMBps = await measureIntake(browser!, o.intakeMB);
    return { chromium: `${CHROMIUM} ${browser?.version() ?? ''}`.trim(), figures, intakeMBps };
  } finally {
    await browser?.close();
  }
}

/** Chromium's WebSocket intake on loopback with nothing else in the page (BrowserBenchResult). */
async function measureIntake(browser: Browser, mb: number): Promise<number> {
  const total = mb * 1e6;
  const page = `<!doctype html><title>intake</title><script>
    let n = 0, t0 = 0;
    const ws = new WebSocket('ws://' + location.host + '/');
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e) => {
      if (t0 === 0) t0 = performance.now();
      n += e.data.byteLength;
      if (n >= ${total}) { document.title = 'MBps ' + (n / (performance.now() - t0) / 1000); ws.close(); }
    };
  </script>`;
  const http = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(page);
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  wss.on('connection', (ws) => {
    let sent = 0;
    const fill = (): void => {
      while (sent < total + chunk.length && ws.bufferedAmount < 4 * 1024 * 1024) {
        ws.send(chunk);
        sent += chunk.length;
      }
    };
    const timer = setInterval(fill, 1);
    fill();
    ws.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const context = await browser.newContext();
  try {
    const p = await context.newPage();
    await p.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
    await p.waitForFunction('document.title.startsWith("MBps ")', undefined, { timeout: GUARD_MS });
    return Number((await p.title()).slice(5));
  } finally {
    await context.close().catch(() => {});
    wss.close();
    http.close();
  }
}

async function measurePolicy(browser: Browser, policy: RefreshPolicy, frames: 'vsync' | 'unthrottled',
  o: BrowserBenchOptions): Promise<BrowserFigures> {
  o.log(`  browser: ${policy} policy${frames === 'unthrottled' ? ', frame rate unlimited' : ''}: starting the lab…`);
  const labLog: string[] = [];
  const lab = await Lab.start({
    vms: ['gvt'], refresh: policy, intervalMs: 16, listen: '127.0.0.1', port: 0, log: (l) => labLog.push(l),
  });
  const context = await browser.newContext({ viewport: o.viewport });
  try {
    const g = lab.guests[0]!;
    // The lab types `startx`; once the desktop is up its Terminal runs flip-demo (a flip per vblank).
    await g.vm.waitFor((s) => s.activeVt === 7, GUARD_MS, 'the graphical session');
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${lab.server!.url}?${new URLSearchParams({ vm: g.name, grid: '0' })}`);
    await waitState(page, (s) => s.frameWidth > 0, 'a picture');
    g.vm.typeText('flip-demo\n');
    await g.vm.waitFor((s) => s.animating, GUARD_MS, 'flip-demo running');
    await waitState(page, (s) => s.flipsPresented >= 10, 'flips presented');
    await sleep(o.warmMs);
    const windows: Array<PageFigures & { fps: number; flipsPerSec: number; mbps: number; backlogMB: number }> = [];
    const server = lab.server!;
    for (let r = 0; r < o.reps; r++) {
      await page.evaluate(() => (globalThis as unknown as Hooks).__vgpu.clearFlipFigures());
      const flips0 = g.status.flips;
      const bytes0 = (await page.evaluate(() => (globalThis as unknown as Hooks).__vgpu.state())).bytesReceived;
      const t0 = performance.now();
      // A string, not a function: the tsx transform would name the inner closure with a helper
      // the page does not have.
      const fps = await page.evaluate(`new Promise((resolve) => {
        let n = 0;
        const t0 = performance.now();
        const tick = () => {
          n++;
          const t = performance.now() - t0;
          if (t >= ${o.windowMs}) resolve((n * 1000) / t);
          else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      })`) as number;
      const sec = (performance.now() - t0) / 1000;
      const figs = await page.evaluate(() => (globalThis as unknown as Hooks).__vgpu.flipFigures());
      const sent = server.stats.bytesSent;
      const bytes1 = (await page.evaluate(() => (globalThis as unknown as Hooks).__vgpu.state())).bytesReceived;
      windows.push({
        ...figs, fps, flipsPerSec: (g.status.flips - flips0) / sec, mbps: (bytes1 - bytes0) / sec / 1e6,
        backlogMB: Math.max(0, sent - bytes1) / 1e6,
      });
    }
    const st = await page.evaluate(() => (globalThis as unknown as Hooks).__vgpu.state());
    if (errors.length > 0) throw new Error(`browser bench: the page threw: ${errors.join('; ')}`);
    if (windows.some((w) => w.total.p50 === null)) throw new Error(`browser bench: a window without a presented flip (${policy})`);
    const med = (f: (w: (typeof windows)[number]) => number): number => spread(windows.map(f), 3).median;
    const qs = (get: (w: (typeof windows)[number]) => { p50: number | null; p99: number | null }): Quantiles => ({
      p50: med((w) => get(w).p50 ?? NaN), p99: med((w) => get(w).p99 ?? NaN),
    });
    return {
      policy, frames, renderer: st.renderer, width: st.frameWidth, height: st.frameHeight,
      presented: windows.reduce((n, w) => n + w.presented, 0), dropped: windows.reduce((n, w) => n + w.dropped, 0),
      flipToPresent: qs((w) => w.total),
      parts: Object.fromEntries(BROWSER_PARTS.map((p) => [p, qs((w) => w.parts[p])])) as Record<BrowserPart, Quantiles>,
      clockRttMs: med((w) => w.clockRtt ?? NaN), framesPerSec: med((w) => w.fps),
      guestFlipsPerSec: med((w) => w.flipsPerSec), receivedMBps: med((w) => w.mbps), backlogMB: med((w) => w.backlogMB),
    };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nlab log:\n${labLog.slice(-20).join('\n')}`);
  } finally {
    await context.close().catch(() => {});
    await lab.stop();
  }
}

async function waitState(page: Page, pred: (s: PageState) => boolean, what: string): Promise<PageState> {
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const s = await page.evaluate(() => (globalThis as unknown as Hooks).__vgpu.state()).catch(() => undefined);
    if (s !== undefined && pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`browser bench: the viewer never showed ${what}: ${JSON.stringify(s)}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
