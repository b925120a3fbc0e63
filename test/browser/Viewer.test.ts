/**
 * The viewer end to end against the fake server: flips without data, reconnect after a server
 * restart, screenshots at guest resolution, keyboard and pointer input, the escape chord and
 * Send-key menu, malformed input, the status line, the Canvas2D fallback, the VM grid.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DRM_FORMAT, fourcc } from '../../src/kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../src/kms/Modifier.ts';
import {
  encodeBufferCreate, encodeBufferData, encodeFrame, encodeId, encodeJson, encodeScanout, encodeStatus, Msg, StatusCode,
} from '../../src/protocol/RemoteProtocol.ts';
import type { ClientMessage } from '../../src/protocol/RemoteProtocol.ts';
import { decodePng } from '../../src/render/Png.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';
import { bufferMessages, noisePlane, showMessages, solidPlane } from './Frames.ts';
import { FakeServer, firstDifference, pixelAt, ViewerPage } from './Harness.ts';

let browser: Browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** Servers and pages of the running test, closed even when it fails (or the process hangs). */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
});

/** A server and a page for one test; both are closed by the returned cleanup. */
async function setup(onAttach: FakeServer['onAttach'], params: Record<string, string> = {},
  extra: Parameters<typeof ViewerPage.open>[2] = {}, using: Browser = browser):
  Promise<{ server: FakeServer; v: ViewerPage; done(): Promise<void> }> {
  const server = new FakeServer();
  server.onAttach = onAttach;
  await server.start();
  cleanups.push(() => server.stop());
  const v = await ViewerPage.open(using, server, { ...extra, params: { scale: 'off', ...params } });
  cleanups.push(() => v.close());
  return {
    server, v,
    done: async () => {
      assert.deepEqual(v.pageErrors, [], 'no uncaught exception in the page');
      assert.deepEqual(server.malformed, [], 'the page sent only well-formed messages');
    },
  };
}

const keys = (list: readonly ClientMessage[]): Array<[number, boolean]> =>
  list.flatMap((m) => (m.type === Msg.KEY ? [[m.code, m.down] as [number, boolean]] : []));

describe('viewer', () => {
  it('flips between two buffers it already holds with a message of < 100 bytes', async () => {
    const a = solidPlane(1, 320, 200, [200, 30, 30]);
    const b = solidPlane(2, 320, 200, [30, 30, 200]);
    const { server, v, done } = await setup((c) => c.sendAll([...bufferMessages(a), ...bufferMessages(b),
      encodeScanout(1, 1, 0), encodeFrame(1, [])]));
    await v.waitFor('s.primaryId === 1');
    assert.deepEqual(pixelAt(await v.snapshot(), 5, 5), [200, 30, 30, 255]);
    for (const [id, rgb] of [[2, [30, 30, 200]], [1, [200, 30, 30]]] as const) {
      const sentBefore = server.bytesSent;
      const recvBefore = (await v.state()).bytesReceived;
      server.client().send(encodeScanout(id, 1, 0));
      await v.waitFor(`s.primaryId === ${id}`);
      assert.ok(server.bytesSent - sentBefore < 100, `server sent ${server.bytesSent - sentBefore} bytes`);
      assert.ok((await v.state()).bytesReceived - recvBefore < 100);
      assert.deepEqual(pixelAt(await v.snapshot(), 160, 100), [...rgb, 255]);
      assert.deepEqual(await v.screenPixel(160, 100), [...rgb, 255]);
    }
    await done();
  });

  for (const renderer of ['webgl', 'canvas'] as const) {
    it(`${renderer}: a snapshot right after a reconnect's SCANOUT shows the plane before any present`, async () => {
      // The state says "primaryId 2" as soon as SCANOUT is handled; the next present waits for an
      // animation frame, which a loaded machine delivers late (here: never). A reconnect clears
      // the renderer and the new plane has the same size (no resize, so no present either): the
      // snapshot must decode what is shown rather than report nothing.
      let nextId = 1;
      const planes: ReturnType<typeof noisePlane>[] = [];
      const { server, v, done } = await setup((c) => {
        const p = noisePlane(nextId++, DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.I915_X_TILED, 128, 64);
        planes.push(p);
        c.sendAll(showMessages(p));
      }, { renderer }, { noAnimationFrames: true });
      await v.waitFor(`s.primaryId === 1 && s.renderer === "${renderer}"`);
      const presents = (await v.state()).presents;
      server.client().close();
      await v.waitFor('s.connection === "open" && s.primaryId === 2');
      assert.equal((await v.state()).presents, presents, 'nothing was presented since the reconnect');
      assert.equal(firstDifference((await v.snapshot()).rgba, planes[1]!.expected, 128), undefined);
      await done();
    });
  }

  it('reconnects by itself after the server restarts (backoff, Cancel, Reconnect)', async () => {
    let colour: [number, number, number] = [0, 150, 0];
    let nextId = 1;
    const { server, v, done } = await setup((c) => c.sendAll(showMessages(solidPlane(nextId++, 160, 120, colour))));
    await v.waitFor('s.primaryId === 1');
    await server.stop();
    await v.waitFor('s.connection !== "open" && s.status !== null && s.status.includes("Reconnecting")');
    assert.equal(await v.page.isVisible('.vg-stage .vg-cancel'), true, 'Cancel is offered');
    colour = [150, 0, 150];
    await server.start();
    await v.waitFor('s.connection === "open" && s.primaryId === 2 && s.attempt === 0');
    assert.deepEqual(pixelAt(await v.snapshot(), 80, 60), [150, 0, 150, 255]);
    assert.equal((await v.state()).status, null);

    // Cancel stops the retries; Reconnect starts again.
    await server.stop();
    await v.waitFor('s.connection === "waiting"');
    await v.page.click('.vg-stage .vg-cancel');
    await v.waitFor('s.connection === "cancelled" && s.status.startsWith("Disconnected")');
    await server.start();
    await v.page.click('.vg-stage .vg-retry');
    await v.waitFor('s.connection === "open" && s.primaryId === 3');
    await done();
  });

  it('screenshot button downloads a PNG of the composed planes at guest resolution', async () => {
    const p = noisePlane(1, DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.I915_X_TILED, 640, 360);
    // Scaled to fit a smaller window: the PNG must still be the guest's size.
    const { v, done } = await setup((c) => c.sendAll(showMessages(p)), { scale: 'fit' },
      { viewport: { width: 500, height: 400 } });
    await v.waitFor('s.primaryId === 1');
    const [download] = await Promise.all([v.page.waitForEvent('download'), v.page.click('#vg-screenshot')]);
    assert.match(download.suggestedFilename(), /^vm0-\d{8}-\d{6}\.png$/);
    const img = decodePng(new Uint8Array(await readFile((await download.path())!)));
    assert.deepEqual([img.width, img.height], [640, 360]);
    assert.equal(firstDifference(img.rgba, p.expected, 640), undefined);
    await done();
  });

  it('sends physical keys as evdev codes and releases held keys on blur', async () => {
    const { server, v, done } = await setup((c) => c.sendAll(showMessages(solidPlane(1, 200, 150, [9, 9, 9]))));
    await v.waitFor('s.primaryId === 1');
    await v.page.click('.vg-stage canvas', { position: { x: 20, y: 20 } });
    let from = server.received.length;
    await v.page.keyboard.press('KeyA');
    await server.waitFor((all) => keys(all.slice(from)).length === 2);
    assert.deepEqual(keys(server.received.slice(from)), [[30, true], [30, false]]);

    from = server.received.length;
    await v.page.keyboard.down('ShiftLeft');
    await v.page.keyboard.down('KeyQ');
    await v.page.keyboard.down('F1');
    await server.waitFor((all) => keys(all.slice(from)).length === 3);
    assert.deepEqual((await v.state()).heldKeys.sort((x, y) => x - y), [16, 42, 59]);
    await v.page.click('#vg-help-toggle'); // focus leaves the viewer
    await server.waitFor((all) => keys(all.slice(from)).length === 6);
    const ups = keys(server.received.slice(from)).slice(3);
    assert.deepEqual(ups.sort((x, y) => x[0] - y[0]), [[16, false], [42, false], [59, false]]);
    assert.deepEqual((await v.state()).heldKeys, []);
    await v.page.keyboard.up('ShiftLeft');
    await v.page.keyboard.up('KeyQ');
    await v.page.keyboard.up('F1');

    // Window blur (switching tabs or windows) releases as well.
    await v.page.click('.vg-stage canvas', { position: { x: 20, y: 20 } });
    from = server.received.length;
    await v.page.keyboard.down('ControlLeft');
    await server.waitFor((all) => keys(all.slice(from)).length === 1);
    await v.page.evaluate(() => window.dispatchEvent(new Event('blur')));
    await server.waitFor((all) => keys(all.slice(from)).length === 2);
    assert.deepEqual(keys(server.received.slice(from)), [[29, true], [29, false]]);
    await v.page.keyboard.up('ControlLeft');
    await done();
  });

  it('escape chord + F2 and the Send-key menu send Ctrl+Alt combinations', async () => {
    const { server, v, done } = await setup((c) => c.sendAll(showMessages(solidPlane(1, 200, 150, [9, 9, 9]))));
    await v.waitFor('s.primaryId === 1');
    await v.page.click('.vg-stage canvas', { position: { x: 20, y: 20 } });
    let from = server.received.length;
    await v.page.keyboard.down('ScrollLock');
    await v.page.keyboard.press('F2');
    await v.page.keyboard.up('ScrollLock');
    await server.waitFor((all) => keys(all.slice(from)).length === 6);
    assert.deepEqual(keys(server.received.slice(from)),
      [[29, true], [56, true], [60, true], [60, false], [56, false], [29, false]]);

    from = server.received.length;
    await v.page.selectOption('#vg-sendkey', 'Ctrl+Alt+Del');
    await server.waitFor((all) => keys(all.slice(from)).length === 6);
    assert.deepEqual(keys(server.received.slice(from)),
      [[29, true], [56, true], [111, true], [111, false], [56, false], [29, false]]);
    from = server.received.length;
    await v.page.selectOption('#vg-sendkey', 'Ctrl+Alt+F12');
    await server.waitFor((all) => keys(all.slice(from)).length === 6);
    assert.deepEqual(keys(server.received.slice(from))[2], [88, true]);
    await done();
  });

  for (const dpr of [2, 1.25]) {
    it(`maps the pointer to guest pixels with a device-pixel-exact canvas (DPR ${dpr}, fit and integer)`, async () => {
      const hidpi = await launchChromium([`--force-device-scale-factor=${dpr}`, '--window-size=1000,700']);
      cleanups.push(() => hidpi.close());
      const { server, v, done } = await setup((c) => c.sendAll(showMessages(solidPlane(1, 200, 100, [0, 90, 180]))),
        { scale: 'fit' }, { viewport: null }, hidpi);
      await v.waitFor('s.primaryId === 1 && s.canvasWidth > 300');
      assert.equal(await v.page.evaluate(() => devicePixelRatio), dpr);
      let s = await v.state();
      // devicePixelContentBoxSize snaps to whole device pixels: within one pixel of CSS × DPR.
      assert.ok(Math.abs(s.canvasWidth - s.cssWidth * dpr) <= 1, `backing ${s.canvasWidth} for ${s.cssWidth} CSS px`);
      assert.ok(Math.abs(s.canvasHeight - s.cssHeight * dpr) <= 1);
      assert.ok(Math.abs(s.dest.width / 200 - s.dest.height / 100) < 0.02, 'fit keeps the aspect ratio');
      const box = (await v.page.locator('.vg-stage canvas').boundingBox())!;
      const css = (dx: number, dy: number): [number, number] =>
        [box.x + (dx * box.width) / s.canvasWidth, box.y + (dy * box.height) / s.canvasHeight];
      // Centre of the picture → centre of the guest.
      const from = server.received.length;
      await v.page.mouse.click(...css(s.dest.x + s.dest.width / 2, s.dest.y + s.dest.height / 2));
      // Wait for the press and the release after it (the move before the press is sent too).
      await server.waitFor((all) => {
        const mine = all.slice(from);
        const i = mine.findIndex((m) => m.type === Msg.POINTER_ABS && m.buttons === 1);
        return i >= 0 && mine.slice(i).some((m) => m.type === Msg.POINTER_ABS && m.buttons === 0);
      });
      const down = server.received.slice(from).find((m) => m.type === Msg.POINTER_ABS && m.buttons === 1);
      assert.ok(down?.type === Msg.POINTER_ABS && Math.abs(down.x - 100) <= 1 && Math.abs(down.y - 50) <= 1,
        `pointer at ${JSON.stringify(down)}`);
      // The picture's top-left device pixel → guest (0, 0).
      await v.page.mouse.move(...css(s.dest.x + 0.5, s.dest.y + 0.5));
      await server.waitFor((all) => all.some((m) => m.type === Msg.POINTER_ABS && m.x === 0 && m.y === 0));

      await v.page.selectOption('#vg-scale', 'integer');
      await v.waitFor('s.dest.width % 200 === 0 && s.filter === "nearest"');
      s = await v.state();
      assert.equal(s.dest.width / 200, s.dest.height / 100);
      assert.deepEqual(await v.screenPixel(s.dest.x + 3, s.dest.y + 3), [0, 90, 180, 255]);
      // integer is the default, so the address bar drops the scale=fit it was opened with.
      assert.doesNotMatch(v.page.url(), /scale=/);
      await done();
    });
  }

  it('malformed server messages show an error and the page keeps working', async () => {
    const a = solidPlane(1, 100, 80, [1, 2, 3]);
    const { server, v, done } = await setup((c) => c.sendAll(showMessages(a)));
    await v.waitFor('s.primaryId === 1');
    const c = server.client();
    const bad: Array<Uint8Array | string> = [
      new Uint8Array(0), Uint8Array.of(0x55), Uint8Array.of(Msg.SCANOUT, 1, 0),
      Uint8Array.of(Msg.HELLO, 0, 0, 0, 0, 1, 0, 0, 0),
      encodeBufferData(999, 0, Uint8Array.of(1, 2, 3)),
      encodeBufferData(1, a.bytes.length - 1, Uint8Array.of(1, 2)),
      encodeBufferCreate({ id: 7, drmFormat: DRM_FORMAT.XRGB8888, modifier: 0n, width: 100000, height: 1, stride: 400000, size: 0xffffffff }),
      encodeScanout(4242, 1, 0), Uint8Array.of(Msg.STATS, 0x7b), Uint8Array.of(Msg.FRAME, 0, 0, 0, 0, 5, 0),
      'a text frame',
    ];
    for (const b of bad) c.send(b);
    await v.waitFor(`s.errors >= ${bad.length}`);
    const s = await v.state();
    assert.match(s.lastError!, /^Protocol error: /);
    assert.equal(s.primaryId, 1, 'nothing changed');
    assert.equal(await v.page.isVisible('.vg-stage .vg-error'), true);
    assert.match((await v.page.textContent('.vg-stage .vg-error-text'))!, /Protocol error/);
    c.send(encodeJsonError());
    await v.waitFor('s.lastError.startsWith("Server error 3: ")');
    // Still alive: a new picture shows.
    c.sendAll(showMessages(solidPlane(2, 100, 80, [40, 50, 60])));
    await v.waitFor('s.primaryId === 2');
    assert.deepEqual(pixelAt(await v.snapshot(), 10, 10), [40, 50, 60, 255]);
    await v.page.click('.vg-stage .vg-dismiss');
    assert.equal(await v.page.isVisible('.vg-stage .vg-error'), false);
    await done();
  });

  it('the status line says why nothing shows', async () => {
    const { server, v, done } = await setup((c) => c.send(encodeStatus(StatusCode.NO_PLANE_YET, '')));
    await v.waitFor('s.status !== null && s.status.startsWith("No picture yet")');
    assert.equal(await v.page.isVisible('.vg-stage .vg-status'), true);
    const c = server.client();
    c.send(encodeStatus(StatusCode.PLANE_DISABLED, ''));
    await v.waitFor('s.status.includes("disabled its primary plane")');
    c.send(encodeStatus(StatusCode.VM_STOPPED, 'by the operator'));
    await v.waitFor('s.status === "The VM is stopped. (by the operator)"');
    c.send(encodeStatus(StatusCode.OK, ''));
    // A format this viewer does not know (NV12) and a modifier it cannot address (Yf).
    const nv12 = fourcc('N', 'V', '1', '2');
    c.sendAll([encodeBufferCreate({ id: 5, drmFormat: nv12, modifier: 0n, width: 64, height: 64, stride: 64, size: 6144 }),
      encodeScanout(5, 1, 0)]);
    await v.waitFor('s.status !== null && s.status.startsWith("Unsupported pixel format: pixel format \'NV12\'")');
    c.sendAll([encodeBufferCreate({ id: 6, drmFormat: DRM_FORMAT.XRGB8888, modifier: DRM_FORMAT_MOD.I915_Yf_TILED,
      width: 64, height: 64, stride: 512, size: 65536 }), encodeScanout(6, 1, 0)]);
    await v.waitFor('s.status !== null && s.status.startsWith("Unsupported tiling modifier: modifier I915_Yf_TILED")');
    c.sendAll(showMessages(solidPlane(7, 64, 64, [5, 6, 7])));
    await v.waitFor('s.primaryId === 7 && s.status === null');
    assert.equal(await v.page.isVisible('.vg-stage .vg-status'), false);
    await done();
  });

  it('falls back to Canvas2D when WebGL2 is missing, and says so', async () => {
    const p = noisePlane(1, DRM_FORMAT.RGB565, DRM_FORMAT_MOD.I915_Y_TILED, 256, 64);
    const { v, done } = await setup((c) => c.sendAll(showMessages(p)), { renderer: 'webgl' }, { noWebGL2: true });
    await v.waitFor('s.primaryId === 1');
    const s = await v.state();
    assert.equal(s.renderer, 'canvas');
    assert.match(s.rendererNote!, /WebGL2 is not available.*Canvas2D/);
    assert.match((await v.page.textContent('#vg-note'))!, /Canvas2D/);
    assert.equal(firstDifference((await v.snapshot()).rgba, p.expected, 256), undefined);
    await done();
  });

  it('a lost WebGL context falls back to Canvas2D with the same picture', async () => {
    const p = noisePlane(1, DRM_FORMAT.XBGR2101010, DRM_FORMAT_MOD.I915_X_TILED, 300, 50);
    const { v, done } = await setup((c) => c.sendAll(showMessages(p)));
    await v.waitFor('s.primaryId === 1 && s.renderer === "webgl"');
    await v.page.evaluate(() => (window as unknown as { __vgpu: { loseContext(): void } }).__vgpu.loseContext());
    await v.waitFor('s.renderer === "canvas"');
    assert.match((await v.state()).rendererNote!, /context lost/);
    assert.equal(firstDifference((await v.snapshot()).rgba, p.expected, 300), undefined);
    assert.deepEqual(await v.screenPixel(0, 0), [255, 0, 0, 255]);
    await done();
  });

  it('shows every VM as a tile, focuses one on click, and fills the stats and inspector', async () => {
    const colours: Record<string, [number, number, number]> = { vm0: [250, 0, 0], vm1: [0, 0, 250] };
    const server = new FakeServer();
    server.vms = ['vm0', 'vm1'];
    server.onAttach = (c, vm) => c.sendAll([...showMessages(solidPlane(1, 120, 90, colours[vm]!)),
      encodeJson(Msg.STATS, {
        t: Date.now(), vm,
        display: { mode: 'dmabuf', policy: 'dirty', requestedPolicy: 'dirty', policyNote: '', gets: 3, cacheHits: 5,
          cacheMisses: 2, cacheEntries: 3, evictions: 0, bytesCopied: 0, scanouts: 7, queries: 40 },
        client: { queuedBytes: 2048 },
      }),
      encodeJson(Msg.EVENT, { kind: 'flip', plane: 'primary' })]);
    await server.start();
    cleanups.push(() => server.stop());
    const v = await ViewerPage.open(browser, server, { params: { grid: '1', stats: '1', inspector: '1' } });
    cleanups.push(() => v.close());
    await v.waitFor('s.vms.length === 2 && s.focused === "vm0" && s.primaryId === 1');
    await v.page.waitForSelector('.vg-strip .vg-tile');
    assert.deepEqual(pixelAt(await v.snapshot(), 1, 1), [250, 0, 0, 255]);
    // A tile with a picture has no status badge over it (its overlay was once shown regardless).
    await v.page.waitForFunction(() => (globalThis as unknown as { __vgpu: { tiles(): Array<{ vm: string; primaryId: number | null }> } })
      .__vgpu.tiles().some((t) => t.vm === 'vm1' && t.primaryId === 1));
    assert.equal(await v.page.isVisible('.vg-strip .vg-tile .vg-status'), false, 'the tile\'s status badge is hidden');
    await v.page.click('.vg-strip .vg-tile');
    await v.waitFor('s.focused === "vm1" && s.primaryId === 1');
    assert.deepEqual(pixelAt(await v.snapshot(), 1, 1), [0, 0, 250, 255]);
    // The picked VM's picture has the keyboard: no second click needed.
    await v.page.keyboard.press('KeyB');
    await server.waitFor(() => keys(server.client('vm1').received).length === 2);
    assert.deepEqual(keys(server.client('vm1').received), [[48, true], [48, false]]);
    assert.match(v.page.url(), /vm=vm1/);
    // The overlay: one short line per topic, read from the STATS payload.
    const statsRow = (name: string): Promise<string | null> => v.page.textContent(`.vg-stats tr[data-row="${name}"] td`);
    await v.page.waitForFunction(() => /hits 5/.test(document.querySelector('.vg-stats tr[data-row="dmabuf"] td')?.textContent ?? ''));
    assert.equal(await statsRow('dmabuf'), 'GETs 3 · hits 5 · misses 2 · cached 3');
    assert.equal(await statsRow('copied'), '0 B (zero-copy)');
    assert.match((await statsRow('refresh'))!, /^dirty · (.* · )?dma-buf$/);
    assert.match((await statsRow('rates'))!, /^FPS [\d.]+ {2}UPS [\d.]+ {2}guest flips\/s [\d.]+$/);
    assert.match((await statsRow('latency'))!, /^upload [\d.]+ · decode [\d.]+ · present [\d.]+ ms$/);
    assert.match((await statsRow('flip'))!, /^(p50 [\d.]+ ms · p99 [\d.]+ ms · dropped \d+ of \d+ · wire p50 [\d.]+ ms|no flip shown yet|waiting for the host clock…)$/);
    assert.match((await statsRow('network'))!, /\/s · total .* · server queue 2\.0 KiB$/);
    assert.equal(await v.page.locator('.vg-stats tr').count(), 8, 'a compact panel, not a dump');
    // The raw payload stays behind "details".
    assert.equal(await v.page.isVisible('.vg-stats-rawtext'), false);
    await v.page.click('.vg-stats summary');
    await v.page.waitForFunction(() => /server display\.cacheHits 5/.test(document.querySelector('.vg-stats-rawtext')?.textContent ?? ''));
    const held = await v.page.evaluate(() => document.activeElement?.className);
    assert.equal(held, 'vg-screen', 'opening details leaves the keyboard with the picture');
    await v.page.waitForFunction(() => document.querySelectorAll('.vg-buffers tbody tr').length === 1);
    const row = await v.page.textContent('.vg-buffers tbody tr');
    assert.match(row!, /^1XRGB8888120×90/);
    // Events in words: never a JSON blob.
    const events = (await v.page.textContent('.vg-events'))!;
    assert.match(events, /host event: flip/);
    assert.doesNotMatch(events, /[{}"]/);
    assert.deepEqual(v.pageErrors, []);
  });

  it('resize=guest asks the guest for the window size once it settles', async () => {
    const { server, v, done } = await setup((c) => c.sendAll(showMessages(solidPlane(1, 64, 64, [1, 1, 1]))),
      { resize: 'guest', scale: 'fit' }, { viewport: { width: 640, height: 480 } });
    await v.waitFor('s.primaryId === 1');
    await server.waitFor((all) => all.some((m) => m.type === Msg.RESIZE));
    const r = server.received.find((m) => m.type === Msg.RESIZE)!;
    const s = await v.state();
    // The tile's area in device pixels, never below the documented 640×480 minimum.
    assert.deepEqual(r.type === Msg.RESIZE ? [r.width, r.height] : [],
      [Math.max(640, s.areaWidth), Math.max(480, s.areaHeight)]);
    assert.ok(s.areaHeight < 480, `the 640×480 window leaves less than 480 rows (${s.areaHeight}) for the picture`);
    await done();
  });
});

/** An ERROR message from the server (code 3). */
function encodeJsonError(): Uint8Array {
  const text = new TextEncoder().encode('device went away');
  const b = new Uint8Array(3 + text.length);
  b[0] = Msg.ERROR;
  b[1] = 3;
  b.set(text, 3);
  return b;
}
