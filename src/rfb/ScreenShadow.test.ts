import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { VmRegistry } from '../server/VmRegistry.ts';
import type { GuestBuffer } from '../testkit/GvtGuest.ts';
import { channelHost, doubleBuffered, flip, gvtVm, type TestVm } from '../testkit/node/LabRig.ts';
import { NOVNC_FORMAT, RfbTestClient, type TestPixelFormat } from '../testkit/node/RfbTestClient.ts';
import { RfbServer } from './RfbServer.ts';

const ZRLE = 16;
const RAW = 0;
const COPY_RECT = 1;
const LAST_RECT = -224;

/** Pixels of the client's framebuffer that differ from the guest buffer (in the client's precision). */
function differing(c: RfbTestClient, vm: TestVm, buf: GuestBuffer, w: number, h: number): { bad: number; first: string } {
  if (c.width !== w || c.height !== h) return { bad: w * h, first: `size ${c.width}x${c.height}` };
  const f = c.format;
  const q = (v: number, max: number): number => Math.round((Math.round((v * max) / 255) * 255) / max);
  let bad = 0;
  let first = '';
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = vm.guest.peek(buf, x, y);
      const want = (q((p >>> 16) & 255, f.rMax) << 16) | (q((p >>> 8) & 255, f.gMax) << 8) | q(p & 255, f.bMax);
      const got = c.rgb(x, y);
      if (got !== want && bad++ === 0) first = `(${x},${y}) ${got.toString(16)} ≠ ${want.toString(16)}`;
    }
  }
  return { bad, first };
}

function assertShows(c: RfbTestClient, vm: TestVm, buf: GuestBuffer, w: number, h: number, what: string): void {
  const d = differing(c, vm, buf, w, h);
  assert.equal(d.bad, 0, `${what}: ${d.bad} pixels differ, first ${d.first}`);
}

/** Text lines as a console draws them: line L is 16 rows, each row its own colour, a "glyph" per line. */
function drawLines(vm: TestVm, buf: GuestBuffer, w: number, h: number, firstLine: number): void {
  for (let r = 0; r * 16 < h; r++) {
    const line = firstLine + r;
    for (let k = 0; k < 16 && r * 16 + k < h; k++) {
      const c = Math.imul(line * 16 + k + 1, 0x9e3779b1) >>> 8;
      vm.guest.fillRect(buf, 0, r * 16 + k, w, 1, 0xff000000 | (c & 0xffffff));
    }
    vm.guest.fillRect(buf, (line * 37) % (w - 9), r * 16 + 2, 9, 12, 0xffffffff);
  }
}

/** The guest scrolls up by 16 rows in place (each pixel copied up, dirty-logged), then draws a new bottom line. */
function scrollUp(vm: TestVm, buf: GuestBuffer, w: number, h: number, colour: number): void {
  for (let y = 0; y < h - 16; y++) {
    for (let x = 0; x < w; x++) vm.guest.fillRect(buf, x, y, 1, 1, vm.guest.peek(buf, x, y + 16));
  }
  vm.guest.fillRect(buf, 0, h - 16, w, 16, colour);
}

async function serve(vm: TestVm): Promise<RfbServer> {
  const server = new RfbServer({ vms: new VmRegistry([vm]), channels: channelHost(), port: 0, security: { type: 'none' } });
  await server.listen();
  return server;
}

describe('ScreenShadow (through RfbServer and a test client)', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => { for (const f of cleanup.reverse()) await f(); });

  /** A gvt VM whose shown buffer `a` holds console lines from `firstLine`, served over RFB. */
  async function linesServed(w: number, h: number, firstLine = 0): Promise<{ vm: TestVm; a: GuestBuffer; port: number }> {
    const vm = gvtVm('vm1');
    const [a] = doubleBuffered(vm, w, h);
    drawLines(vm, a, w, h, firstLine);
    vm.refresh();
    const server = await serve(vm);
    cleanup.push(() => server.close(), () => vm.dispose());
    return { vm, a, port: server.ports[0]!.port };
  }

  for (const tiling of ['linear', 'x'] as const) {
    it(`a 9×16 character cell inside a block row is sent as exactly that cell (${tiling})`, async () => {
      const W = 720;
      const H = 400;
      const vm = gvtVm('vm1');
      const a = vm.guest.alloc({ width: W, height: H, tiling });
      vm.guest.fillRect(a, 0, 0, W, H, 0xff000000);
      vm.guest.showPrimary(a);
      vm.guest.vblank();
      vm.vfio.start();
      vm.refresh();
      const server = await serve(vm);
      cleanup.push(() => server.close(), () => vm.dispose());
      const c = await RfbTestClient.connect(server.ports[0]!.port);
      cleanup.push(() => c.close());
      c.setEncodings([RAW]);
      c.request(false);
      await c.nextUpdate();
      c.request(true);
      // A glyph whose lit pixels reach all four edges of its cell.
      vm.guest.fillRect(a, 117, 80, 9, 16, 0xffc0c0c0);
      vm.guest.fillRect(a, 119, 83, 5, 10, 0xff000000);
      vm.refresh();
      const u = await c.nextUpdate();
      assert.deepEqual(u.rects, [{ x: 117, y: 80, w: 9, h: 16, encoding: RAW }]);
      assert.equal(u.bytes, 4 + 12 + 9 * 16 * 4);
      assertShows(c, vm, a, W, H, 'after the glyph');
    });
  }

  it('a console scroll is one CopyRect plus the exposed rows; clients without CopyRect get pixels', async () => {
    const W = 320;
    const H = 208;
    const { vm, a, port } = await linesServed(W, H);
    const clients = await Promise.all([RfbTestClient.connect(port), RfbTestClient.connect(port), RfbTestClient.connect(port)]);
    cleanup.push(() => clients.forEach((c) => c.close()));
    const [raw, zrle, plain] = clients as [RfbTestClient, RfbTestClient, RfbTestClient];
    raw.setEncodings([RAW, COPY_RECT]);
    zrle.setPixelFormat(NOVNC_FORMAT);
    zrle.setEncodings([ZRLE, COPY_RECT]);
    plain.setEncodings([RAW]);
    for (const c of clients) {
      c.request(false);
      await c.nextUpdate();
      assertShows(c, vm, a, W, H, 'before the scroll');
      c.request(true);
    }
    // The guest scrolls by one line: every row is rewritten (the dirty log has them all).
    drawLines(vm, a, W, H, 1);
    vm.refresh();
    for (const [c, name] of [[raw, 'Raw'], [zrle, 'ZRLE']] as const) {
      const u = await c.nextUpdate();
      const copies = u.rects.filter((r) => r.encoding === COPY_RECT);
      assert.equal(copies.length, 1, `${name}: one CopyRect in ${JSON.stringify(u.rects)}`);
      assert.deepEqual(copies[0], { x: 0, y: 0, w: W, h: H - 16, encoding: COPY_RECT });
      assert.equal(u.rects[0]!.encoding, COPY_RECT, 'the CopyRect comes before the pixels');
      const pixels = u.rects.filter((r) => r.encoding !== COPY_RECT).reduce((s, r) => s + r.w * r.h, 0);
      assert.ok(pixels <= 16 * W, `${name}: only the exposed line is sent as pixels: ${pixels} in ${JSON.stringify(u.rects)}`);
      assertShows(c, vm, a, W, H, `${name} after the scroll`);
    }
    const p = await plain.nextUpdate();
    assert.ok(p.rects.every((r) => r.encoding === RAW), 'no CopyRect to a client that did not ask for it');
    assertShows(plain, vm, a, W, H, 'the client without CopyRect');
  });

  it('a change the client has not been sent yet moves with the scroll (its dirty pixels move with the CopyRect)', async () => {
    const W = 320;
    const H = 208;
    const { vm, a, port } = await linesServed(W, H);
    const c = await RfbTestClient.connect(port);
    const watcher = await RfbTestClient.connect(port);
    cleanup.push(() => c.close(), () => watcher.close());
    for (const x of [c, watcher]) {
      x.setEncodings([RAW, COPY_RECT]);
      x.request(false);
      await x.nextUpdate();
    }
    // The client asks nothing while a square appears (the watcher gets it: the shadow has it)
    // and the screen then scrolls under it.
    watcher.request(true);
    vm.guest.fillRect(a, 50, 100, 9, 16, 0xffffffff);
    vm.refresh();
    assert.deepEqual((await watcher.nextUpdate()).rects, [{ x: 50, y: 100, w: 9, h: 16, encoding: RAW }]);
    scrollUp(vm, a, W, H, 0xff204060);
    vm.refresh();
    c.request(true);
    const u = await c.nextUpdate();
    assert.deepEqual(u.rects.filter((r) => r.encoding === COPY_RECT), [{ x: 0, y: 0, w: W, h: H - 16, encoding: COPY_RECT }]);
    assertShows(c, vm, a, W, H, 'after the scroll');
    const pixels = u.rects.filter((r) => r.encoding !== COPY_RECT).reduce((n, r) => n + r.w * r.h, 0);
    assert.ok(pixels <= 16 * W + 9 * 16, `the exposed line and the moved square only: ${JSON.stringify(u.rects)}`);
  });

  it('LastRect: a big ZRLE update is streamed with count 0xFFFF and ends with LastRect', async () => {
    const W = 320;
    const H = 200;
    const { vm, a, port } = await linesServed(W, H, 5);
    const last = await RfbTestClient.connect(port);
    const counted = await RfbTestClient.connect(port);
    cleanup.push(() => last.close(), () => counted.close());
    last.setEncodings([ZRLE, LAST_RECT]);
    counted.setEncodings([ZRLE]);
    last.request(false);
    counted.request(false);
    const u = await last.nextUpdate();
    assert.equal(u.count, 0xffff);
    assert.equal(u.rects.at(-1)!.encoding, LAST_RECT);
    assert.ok(u.rects.slice(0, -1).every((r) => r.encoding === ZRLE && r.h <= 64), `ZRLE bands: ${JSON.stringify(u.rects)}`);
    assertShows(last, vm, a, W, H, 'streamed update');
    const v = await counted.nextUpdate();
    assert.equal(v.count, v.rects.length, 'without LastRect the count is exact');
    assert.ok(v.rects.every((r) => r.encoding === ZRLE));
    assertShows(counted, vm, a, W, H, 'counted update');
    // A small update to the LastRect client keeps an exact count (no 12 bytes of LastRect).
    last.request(true);
    vm.guest.fillRect(a, 3, 3, 5, 5, 0xff123456);
    vm.refresh();
    const small = await last.nextUpdate();
    assert.equal(small.count, 1);
    assertShows(last, vm, a, W, H, 'small update');
  });

  it('clients at different paces (every change, only at the end, not reading) each converge to the buffer', async () => {
    const W = 320;
    const H = 208;
    const vm = gvtVm('vm1');
    const [a, b] = doubleBuffered(vm, W, H);
    drawLines(vm, a, W, H, 0);
    drawLines(vm, b, W, H, 0);
    vm.refresh();
    const server = await serve(vm);
    cleanup.push(() => server.close(), () => vm.dispose());
    const port = server.ports[0]!.port;
    const R565: TestPixelFormat = { bpp: 16, depth: 16, bigEndian: true, rMax: 31, gMax: 63, bMax: 31, rShift: 11, gShift: 5, bShift: 0 };
    const setups: Array<{ enc: number[]; format?: TestPixelFormat; pace: 'fast' | 'slow' | 'stalled' }> = [
      { enc: [RAW, COPY_RECT], pace: 'fast' },
      { enc: [ZRLE, COPY_RECT], format: NOVNC_FORMAT, pace: 'fast' },
      { enc: [ZRLE], format: R565, pace: 'fast' },
      { enc: [RAW, COPY_RECT], pace: 'slow' },
      { enc: [ZRLE, COPY_RECT, LAST_RECT], pace: 'slow' },
      { enc: [RAW], format: R565, pace: 'stalled' },
      { enc: [ZRLE, COPY_RECT], format: NOVNC_FORMAT, pace: 'stalled' },
    ];
    const clients = await Promise.all(setups.map(() => RfbTestClient.connect(port)));
    cleanup.push(() => clients.forEach((c) => c.close()));
    await Promise.all(clients.map(async (c, i) => {
      const s = setups[i]!;
      if (s.format !== undefined) c.setPixelFormat(s.format);
      c.setEncodings(s.enc);
      c.request(false);
      await c.nextUpdate();
      assertShows(c, vm, a, W, H, `client ${i} at the start`);
    }));
    const stalled = clients.filter((_, i) => setups[i]!.pace === 'stalled');
    for (const c of stalled) {
      c.request(true); // one request outstanding, then the client stops reading
      c.socket.pause();
    }
    let shown = a;
    const steps: Array<() => void> = [
      () => { vm.guest.fillRect(shown, 40, 40, 9, 16, 0xffffffff); vm.refresh(); },
      () => { drawLines(vm, b, W, H, 1); flip(vm, b); shown = b; },
      () => { drawLines(vm, b, W, H, 2); vm.refresh(); }, // scroll in place
      () => { vm.guest.fillRect(a, 0, 100, W, 3, 0xff00ff00); flip(vm, a); shown = a; }, // back to a, changed meanwhile
      () => { drawLines(vm, a, W, H, 4); vm.refresh(); }, // a scroll by two lines
      () => { vm.guest.fillRect(shown, 300, 190, 20, 18, 0xff0000ff); vm.refresh(); },
    ];
    const fast = clients.filter((_, i) => setups[i]!.pace === 'fast');
    for (const step of steps) {
      for (const c of fast) c.request(true);
      step();
      await Promise.all(fast.map(async (c) => {
        await c.nextUpdate();
        // The display may report one step in two scans: ask again until the client has it all.
        for (let k = 0; k < 5 && differing(c, vm, shown, W, H).bad > 0; k++) {
          c.request(true);
          await c.nextUpdate();
        }
        assertShows(c, vm, shown, W, H, `fast client ${clients.indexOf(c)} after a step`);
      }));
    }
    for (const c of stalled) c.socket.resume();
    await Promise.all(clients.map(async (c, i) => {
      for (let k = 0; k < 20 && differing(c, vm, shown, W, H).bad > 0; k++) {
        if (setups[i]!.pace !== 'stalled' || k > 0) c.request(true);
        await c.nextUpdate();
      }
      assertShows(c, vm, shown, W, H, `client ${i} (${setups[i]!.pace}, ${setups[i]!.enc.join(',')}) at the end`);
    }));
    assert.ok(server.stats.shadowBytesCopied > 0, 'the shadow copies are counted');
  });
});
