/**
 * Issue 15 in real Chromium against the fake server: the default picture is crisp (backing store
 * = CSS × DPR, emulated or real; whole-factor scaling, never a fractional shrink unless chosen),
 * the inspector and stats overlay leave the picture alone, the toolbar fits at 1000 px, reconnect
 * after an outage is quick and says so in words, and flip → present is measured.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { encodeFrame, encodeScanout } from '../../src/protocol/RemoteProtocol.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';
import { bufferMessages, showMessages, solidPlane } from './Frames.ts';
import { FakeServer, ViewerPage } from './Harness.ts';
import type { OpenOptions } from './Harness.ts';

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
});

/** A fake server showing a solid `w`×`h` plane, and a page on it with the default settings. */
async function open(w: number, h: number, o: OpenOptions = {}, using: Browser = browser):
  Promise<{ server: FakeServer; v: ViewerPage }> {
  const server = new FakeServer();
  server.onAttach = (c) => c.sendAll(showMessages(solidPlane(1, w, h, [40, 120, 200])));
  await server.start();
  cleanups.push(() => server.stop());
  const v = await ViewerPage.open(using, server, o);
  cleanups.push(async () => {
    assert.deepEqual(v.pageErrors, [], 'no uncaught exception in the page');
    assert.deepEqual(server.malformed, [], 'only well-formed messages');
    await v.close();
  });
  await v.waitFor(`s.primaryId === 1 && s.frameWidth === ${w}`);
  return { server, v };
}

describe('readable by default', () => {
  it('backing store = CSS size × devicePixelRatio under Chromium\'s DPR emulation (1.5)', async () => {
    const { v } = await open(320, 200, { deviceScaleFactor: 1.5 });
    await v.waitFor('s.devicePixelRatio === 1.5 && s.canvasWidth > 0');
    const s = await v.state();
    assert.ok(Math.abs(s.canvasWidth - s.cssWidth * 1.5) <= 1, `canvas ${s.canvasWidth} for ${s.cssWidth} CSS px`);
    assert.ok(Math.abs(s.canvasHeight - s.cssHeight * 1.5) <= 1, `canvas ${s.canvasHeight} for ${s.cssHeight} CSS px`);
    // Whole factor, nearest filtering: crisp.
    assert.match(s.scale, /^(1:1|\d+×)$/);
    assert.equal(s.filter, 'nearest');
  });

  it('backing store = device pixels with a real --force-device-scale-factor=1.5', async () => {
    const hidpi = await launchChromium(['--force-device-scale-factor=1.5', '--window-size=1000,700']);
    cleanups.push(() => hidpi.close());
    const { v } = await open(320, 200, { viewport: null }, hidpi);
    await v.waitFor('s.devicePixelRatio === 1.5 && s.canvasWidth > 0');
    const s = await v.state();
    assert.ok(Math.abs(s.canvasWidth - s.cssWidth * 1.5) <= 1, `canvas ${s.canvasWidth} for ${s.cssWidth} CSS px`);
    assert.ok(Math.abs(s.canvasHeight - s.cssHeight * 1.5) <= 1, `canvas ${s.canvasHeight} for ${s.cssHeight} CSS px`);
  });

  it('a guest larger than the window is shown 1:1 and scrolls; a small one at a whole factor', async () => {
    const big = await open(1920, 1200);
    const s = await big.v.state();
    assert.deepEqual([s.scale, s.filter, s.dest.width, s.dest.height], ['1:1', 'nearest', 1920, 1200]);
    assert.deepEqual([s.canvasWidth, s.canvasHeight], [1920, 1200], 'no fractional downscale');
    const scrolls = await big.v.page.evaluate(() => {
      const el = document.querySelector('.vg-stage .vg-screen')!;
      return el.scrollWidth > el.clientWidth && el.scrollHeight > el.clientHeight;
    });
    assert.ok(scrolls, 'the tile scrolls to the rest of the picture');
    assert.equal(await big.v.page.textContent('#vg-scale-shown'), '1:1', 'the scale in use is shown');

    const small = await open(320, 200);
    const t = await small.v.state();
    const k = Math.floor(Math.min(t.areaWidth / 320, t.areaHeight / 200));
    assert.ok(k >= 2, `the area fits ${k}×`);
    assert.deepEqual([t.scale, t.filter, t.dest.width, t.dest.height], [`${k}×`, 'nearest', 320 * k, 200 * k]);

    // fit is a choice: picked in the toolbar, it is fractional and says so.
    await big.v.page.selectOption('#vg-scale', 'fit');
    await big.v.waitFor('s.scale.startsWith("fit ")');
    assert.match((await big.v.page.textContent('#vg-scale-shown'))!, /^fit 0\.\d\d×$/);
  });

  it('the inspector is a drawer: opening it does not change the picture\'s size', async () => {
    const { v } = await open(320, 200);
    const before = await v.state();
    await v.page.click('#vg-inspector-toggle');
    await v.page.waitForSelector('.vg-inspector:not([hidden])');
    await v.waitFor('true'); // a frame later
    const after = await v.state();
    assert.deepEqual([after.canvasWidth, after.canvasHeight, after.dest, after.cssWidth],
      [before.canvasWidth, before.canvasHeight, before.dest, before.cssWidth]);
    // Its tables fit inside it.
    const fits = await v.page.evaluate(() => [document.querySelector('.vg-inspector')!,
      ...document.querySelectorAll('.vg-inspector .vg-table-wrap')].every((e) => e.scrollWidth <= e.clientWidth));
    assert.ok(fits, 'no clipped inspector table');
  });

  it('the toolbar fits in one row at 1000 px; the stats overlay leaves the top-left free', async () => {
    const { v } = await open(320, 200, { params: { stats: '1' } });
    const layout = await v.page.evaluate(() => {
      const items = [...document.querySelectorAll('.vg-toolbar > *')].filter((e) => e.id !== 'vg-note');
      const rects = items.map((e) => e.getBoundingClientRect());
      const screen = document.querySelector('.vg-stage .vg-screen')!.getBoundingClientRect();
      const stats = document.querySelector('.vg-stats')!.getBoundingClientRect();
      return {
        width: innerWidth, right: Math.max(...rects.map((r) => r.right)),
        rows: new Set(rects.map((r) => Math.round(r.top + r.height / 2))).size,
        statsLeft: stats.left - screen.left, statsTop: stats.top - screen.top,
        screenW: screen.width, screenH: screen.height,
      };
    });
    assert.equal(layout.width, 1000);
    assert.ok(layout.right <= 1000, `toolbar ends at ${layout.right} px`);
    assert.ok(layout.rows <= 2, `toolbar items centred on ${layout.rows} lines`);
    assert.ok(layout.statsTop >= layout.screenH / 2 || layout.statsLeft >= layout.screenW / 2,
      `stats overlay at (${layout.statsLeft}, ${layout.statsTop}) of ${layout.screenW}×${layout.screenH}`);
  });

  it('asks for no missing file (favicon included)', async () => {
    const { server, v } = await open(64, 64);
    const icon = await v.page.evaluate(async () => (await fetch('favicon.ico')).status);
    assert.equal(icon, 200);
    assert.deepEqual(server.notFound, []);
  });
});

describe('reconnect', () => {
  it('after a 12 s outage it is back within 5 s, counting down in words, the frame dimmed', async () => {
    const { server, v } = await open(320, 200, { params: { grid: '0' } });
    const port = server.port;
    await server.stop();
    // The outage, driven by the viewer's own state: its attempts add up to more than 12 s.
    const started = Date.now();
    await v.waitFor('s.connection === "waiting" && s.attempt >= 1');
    const s = await v.state();
    assert.ok(s.stale, 'the frozen frame is dimmed');
    assert.match(s.status!, /^The connection to the server was lost\. Reconnecting in \d(\.\d)? s…$/);
    assert.doesNotMatch(s.status!, /code|1006/);
    // Failures at 0, 0.5, 1.5, 3.5, 6.5, 9.5 and 12.5 s (backoff 0.5, 1, 2, then 3 s): the
    // seventh ends more than 12 s of outage.
    await v.waitFor('s.connection === "waiting" && s.attempt >= 7', 30_000);
    const outage = Date.now() - started;
    assert.ok(outage >= 12_000, `outage ${outage} ms`);
    const w = await v.state();
    assert.ok(w.status !== null && /in [0-3](\.\d)? s/.test(w.status), `countdown capped at 3 s: ${w.status}`);
    await server.start(port);
    const back = Date.now();
    await v.waitFor('s.connection === "open" && s.primaryId === 1', 8000);
    const took = Date.now() - back;
    assert.ok(took <= 5000, `back ${took} ms after the server returned`);
    await v.waitFor('!s.stale');
  });
});

describe('flip → present', () => {
  it('the overlay shows p50/p99 from vblank times, and counts dropped flips', async () => {
    const a = solidPlane(1, 160, 100, [200, 30, 30]);
    const b = solidPlane(2, 160, 100, [30, 30, 200]);
    const server = new FakeServer();
    let seq = 1;
    server.onAttach = (c) => c.sendAll([...bufferMessages(a), ...bufferMessages(b),
      encodeScanout(1, seq, performance.timeOrigin + performance.now()), encodeFrame(1, [])]);
    await server.start();
    cleanups.push(() => server.stop());
    const v = await ViewerPage.open(browser, server, { params: { stats: '1' } });
    cleanups.push(() => v.close());
    await v.waitFor('s.primaryId === 1 && s.clockOffset !== null');
    // Flips one at a time, each once the last was presented; then two back to back (one dropped).
    for (let i = 0; i < 6; i++) {
      const presented = (await v.state()).flipsPresented;
      server.client().send(encodeScanout(i % 2 === 0 ? 2 : 1, ++seq, performance.timeOrigin + performance.now()));
      await v.waitFor(`s.flipsPresented > ${presented}`);
    }
    // A flip the server never sent (a gap in the numbers) is a dropped flip.
    const dropped = (await v.state()).flipsDropped;
    seq += 2;
    server.client().send(encodeScanout(2, seq, performance.timeOrigin + performance.now()));
    await v.waitFor(`s.flipsDropped === ${dropped + 1} && s.flipsPresented >= 7`);
    const s = await v.state();
    assert.ok(s.flipToPresentP50! > 0 && s.flipToPresentP99! >= s.flipToPresentP50!,
      `p50 ${s.flipToPresentP50} p99 ${s.flipToPresentP99}`);
    // The overlay ticks once a second: wait for the tick that has the dropped flip.
    await v.page.waitForFunction(() => /^p50 .* dropped [1-9]/.test(document.querySelector('.vg-stats tr[data-row="flip"] td')?.textContent ?? ''));
    const row = (await v.page.textContent('.vg-stats tr[data-row="flip"] td'))!;
    const m = /^p50 ([\d.]+) ms · p99 ([\d.]+) ms · dropped (\d+) of (\d+) · wire p50 ([\d.]+) ms$/.exec(row);
    assert.ok(m, row);
    assert.ok(Number(m[1]) > 0 && Number(m[2]) > 0, row);
    assert.ok(Number(m[3]) >= 1, row);
    assert.deepEqual(v.pageErrors, []);
  });
});
