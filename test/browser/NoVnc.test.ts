/**
 * noVNC (the npm package, a client nobody here wrote) in Debian's Chromium against the real lab's
 * RFB-over-WebSocket endpoint (`/vnc/<vm>`): the picture is the guest's buffer pixel for pixel,
 * typing reaches the guest's shell, the cursor is the guest's cursor plane with its hotspot, and
 * a SetDesktopSize from noVNC changes the guest's mode.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { decodePng } from '../../src/render/Png.ts';
import { SoftwareRenderer } from '../../src/render/SoftwareRenderer.ts';
import { PROMPT } from '../../src/guest/os/Shell.ts';
import { Lab } from '../../src/lab/Lab.ts';
import type { RfbClientStats } from '../../src/rfb/RfbClient.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';

const NOVNC = new URL('../../node_modules/@novnc/novnc/', import.meta.url).pathname;
const GVT = 'gvt-1';
const BOCHS = 'bochs-2';

let lab: Lab;
let browser: Browser;
let pageServer: Server;
let pageOrigin = '';
const labLog: string[] = [];

/** A page that imports noVNC's ES modules and exposes the RFB object as window.rfb. */
const INDEX = `<!doctype html><meta charset="utf-8"><title>noVNC test</title>
<style>html,body{margin:0}#screen{width:WIDTHpx;height:HEIGHTpx}</style>
<div id="screen"></div>
<script type="module">
import RFB from '/novnc/core/rfb.js';
const q = new URLSearchParams(location.search);
window.events = [];
const rfb = new RFB(document.getElementById('screen'), q.get('url'));
rfb.resizeSession = q.get('resize') === '1';
for (const e of ['connect', 'disconnect', 'desktopname', 'credentialsrequired', 'securityfailure']) {
  rfb.addEventListener(e, (ev) => window.events.push(e + (ev.detail && ev.detail.clean === false ? ':unclean' : '')));
}
window.rfb = rfb;
</script>`;

before(async () => {
  pageServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/') {
      const w = url.searchParams.get('w') ?? '1024';
      const h = url.searchParams.get('h') ?? '768';
      res.writeHead(200, { 'content-type': 'text/html' }).end(INDEX.replace('WIDTH', w).replace('HEIGHT', h));
      return;
    }
    const rel = normalize(url.pathname).replace(/^\/novnc\//, '');
    if (!url.pathname.startsWith('/novnc/') || rel.includes('..')) return void res.writeHead(404).end();
    readFile(join(NOVNC, rel)).then((b) => {
      res.writeHead(200, { 'content-type': extname(rel) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(b);
    }, () => res.writeHead(404).end());
  });
  await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  [lab, browser] = await Promise.all([
    Lab.start({
      vms: ['gvt', 'bochs'], refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0,
      allowedOrigins: [pageOrigin], vnc: { listen: '127.0.0.1', port: 0, security: { type: 'none' } },
      log: (l) => labLog.push(l),
    }),
    launchChromium(),
  ]);
});

after(async () => {
  await browser?.close();
  await lab?.stop();
  await new Promise((r) => pageServer?.close(r));
});

async function openNoVnc(vm: string, opts: { w?: number; h?: number; resize?: boolean } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const ws = `ws://127.0.0.1:${lab.server!.port}/vnc/${vm}`;
  await page.goto(`${pageOrigin}/?url=${encodeURIComponent(ws)}&w=${opts.w ?? 1024}&h=${opts.h ?? 768}&resize=${opts.resize ? 1 : 0}`);
  // The module script may not have run yet when the first poll comes.
  await page.waitForFunction(() => ((window as unknown as { events?: string[] }).events ?? []).includes('connect'), undefined, { timeout: 60_000 })
    .catch((err: Error) => { throw new Error(`noVNC did not connect: ${err.message}; page errors ${errors.join('; ')}; lab log:\n${labLog.join('\n')}`); });
  return page;
}

/** The guest's shown primary as 0xRRGGBB per pixel, converted from its dma-buf mapping. */
function guestFrame(vm: string): { width: number; height: number; rgb: Uint32Array } {
  const i = lab.registry.list().findIndex((v) => v.name === vm);
  const b = lab.registry.list()[i]!.display.console.scanout;
  assert.ok(b !== undefined, `${vm} shows a buffer`);
  const r = new SoftwareRenderer({ opaquePrimary: true });
  assert.equal(r.setPrimary({ source: b.mapping, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height, stride: b.stride }), 'ok');
  r.render();
  const rgb = new Uint32Array(b.width * b.height);
  const fb = r.framebuffer;
  for (let k = 0; k < rgb.length; k++) rgb[k] = (fb[4 * k]! << 16) | (fb[4 * k + 1]! << 8) | fb[4 * k + 2]!;
  return { width: b.width, height: b.height, rgb };
}

async function noVncFrame(page: Page): Promise<{ width: number; height: number; rgb: Uint32Array }> {
  // Base64, not Array.from: a 1024×768 frame as a JSON array of 3 M numbers took seconds per poll
  // on a loaded machine, so the comparison loop below could outlast the file's time limit.
  const d = await page.evaluate(() => {
    const img = (window as unknown as { rfb: { getImageData(): ImageData } }).rfb.getImageData();
    const u8 = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
    let s = '';
    for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
    return { width: img.width, height: img.height, b64: btoa(s) };
  });
  const data = Buffer.from(d.b64, 'base64');
  const rgb = new Uint32Array(d.width * d.height);
  for (let k = 0; k < rgb.length; k++) rgb[k] = (data[4 * k]! << 16) | (data[4 * k + 1]! << 8) | data[4 * k + 2]!;
  return { width: d.width, height: d.height, rgb };
}

function differing(a: { rgb: Uint32Array }, b: { rgb: Uint32Array }): number {
  let n = 0;
  for (let k = 0; k < a.rgb.length; k++) if (a.rgb[k] !== b.rgb[k]) n++;
  return n;
}

describe('noVNC against the lab\'s RFB server', () => {
  it('shows the guest\'s buffer pixel for pixel, and typing reaches the shell', async () => {
    const page = await openNoVnc(BOCHS);
    // The guest's cursor blinks: compare until a moment where noVNC has caught up (bounded).
    let last = '';
    let equal = false;
    for (let i = 0; i < 200 && !equal; i++) {
      const [want, got] = [guestFrame(BOCHS), await noVncFrame(page)];
      equal = want.width === got.width && want.height === got.height && differing(want, got) === 0;
      last = `${got.width}x${got.height} vs ${want.width}x${want.height}, ${want.width === got.width ? differing(want, got) : '?'} pixels differ`;
      if (!equal) await page.waitForTimeout(20);
    }
    assert.ok(equal, `noVNC's picture equals the guest buffer (last: ${last})`);
    const g = lab.guests.find((x) => x.name === BOCHS)!;
    await page.click('#screen canvas');
    // As a person types: Shift held for capitals and '_' (noVNC sends key codes, not characters).
    for (const ch of 'echo Hi-VNC_42\n') {
      const shifted = /[A-Z_]/.test(ch);
      if (shifted) await page.keyboard.down('Shift');
      await page.keyboard.press(ch === '\n' ? 'Enter' : ch === '_' ? 'Minus' : ch === ' ' ? 'Space' : ch === '-' ? 'Minus' : /[0-9]/.test(ch) ? `Digit${ch}` : `Key${ch.toUpperCase()}`);
      if (shifted) await page.keyboard.up('Shift');
    }
    const lines = await g.waitForScreen(/^Hi-VNC_42$/m, 20_000).catch((err: Error) => {
      throw new Error(`${err.message.slice(0, 120)}; the guest screen reads:\n${g.screenText().filter(Boolean).slice(-6).join('\n')}`);
    });
    assert.ok(lines.some((l) => l.startsWith(PROMPT.trim())), lines.join('\n'));
    await page.close();
  });

  it('decodes our CopyRect (a console scroll) and LastRect (streamed updates) into the guest\'s picture', async () => {
    const page = await openNoVnc(BOCHS);
    const g = lab.guests.find((x) => x.name === BOCHS)!;
    await page.click('#screen canvas');
    const client = (): RfbClientStats | undefined => lab.vnc!.clients().find((c) => c.stats.updates > 0 && c.stats.bytes > 0)?.stats;
    const before = client()?.copyRects ?? 0;
    // Fill the screen, then scroll it a line or two at a time, each step waited for on the guest's
    // screen: a step that the host sees as one change is a shift of a few rows (CopyRect), never a
    // whole screenful rewritten at once (as a burst of commands can be on a loaded machine).
    const press = async (text: string): Promise<void> => {
      for (const ch of text) await page.keyboard.press(ch === '\n' ? 'Enter' : ch === ' ' ? 'Space' : /[0-9]/.test(ch) ? `Digit${ch}` : `Key${ch.toUpperCase()}`);
    };
    for (let i = 0; i < 60 && (client()?.copyRects ?? 0) === before; i++) {
      // `help` (a screen's third) then a marker, until the screen is full; markers after that.
      await press(i < 3 ? `help\necho step${i}\n` : `echo step${i}\n`);
      await g.waitForScreen(new RegExp(`^step${i}$`, 'm'), 20_000);
      // Let the mirror catch up with this step before the next one (bounded by the loop).
      for (let k = 0; k < 50 && (client()?.copyRects ?? 0) === before; k++) await page.waitForTimeout(20);
    }
    let last = '';
    let equal = false;
    for (let i = 0; i < 200 && !equal; i++) {
      const [want, got] = [guestFrame(BOCHS), await noVncFrame(page)];
      equal = want.width === got.width && want.height === got.height && differing(want, got) === 0;
      last = `${want.width === got.width ? differing(want, got) : '?'} pixels differ`;
      if (!equal) await page.waitForTimeout(20);
    }
    const stats = lab.vnc!.clients().map((c) => c.stats);
    assert.ok(stats.some((s) => s.copyRects > before), `a CopyRect was sent: ${JSON.stringify(stats)}`);
    assert.ok(stats.some((s) => s.lastRectUpdates > 0), `an update was streamed with LastRect: ${JSON.stringify(stats)}`);
    assert.ok(equal, `after the scroll noVNC's picture equals the guest buffer (last: ${last})`);
    await page.close();
  });

  it('shows the gvt cursor plane as noVNC\'s cursor, with its hotspot', async () => {
    const page = await openNoVnc(GVT);
    const ch = lab.server!.channelFor(lab.registry.get(GVT)!);
    await page.waitForFunction(() => /url\(/.test((document.querySelector('#screen canvas') as HTMLCanvasElement).style.cursor), undefined, { timeout: 20_000 });
    const css = await page.evaluate(() => (document.querySelector('#screen canvas') as HTMLCanvasElement).style.cursor);
    const m = /url\("?data:image\/png;base64,([^")]+)"?\)\s*(\d+) (\d+)/.exec(css);
    assert.ok(m, `cursor CSS: ${css.slice(0, 80)}`);
    const cur = ch.cursor;
    assert.ok(cur.shadow !== undefined, 'the gvt session shows a cursor plane');
    assert.deepEqual([Number(m[2]), Number(m[3])], [cur.hotX, cur.hotY], 'hotspot');
    const png = decodePng(new Uint8Array(Buffer.from(m[1]!, 'base64')));
    assert.deepEqual([png.width, png.height], [cur.shadow.buffer.width, cur.shadow.buffer.height]);
    // Opaque cursor pixels keep their colour; transparent ones are masked out.
    const r = new SoftwareRenderer();
    const b = cur.shadow.buffer;
    r.setPrimary({ source: b.mapping, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height, stride: b.stride });
    r.render();
    let bad = 0;
    for (let k = 0; k < b.width * b.height; k++) {
      const a = r.framebuffer[4 * k + 3]!;
      const shownA = png.rgba[4 * k + 3]!;
      if ((a >= 128) !== (shownA >= 128)) bad++;
      else if (a >= 128 && [0, 1, 2].some((c) => png.rgba[4 * k + c] !== r.framebuffer[4 * k + c])) bad++;
    }
    assert.equal(bad, 0, `${bad} cursor pixels differ`);
    await page.close();
  });

  it('a SetDesktopSize from noVNC (resizeSession) changes the guest\'s mode', async () => {
    const g = lab.guests.find((x) => x.name === BOCHS)!;
    const page = await openNoVnc(BOCHS, { w: 800, h: 600, resize: true });
    const console_ = lab.registry.get(BOCHS)!.display.console;
    for (let i = 0; i < 400 && !(console_.size.width === 800 && console_.size.height === 600); i++) await page.waitForTimeout(25);
    assert.deepEqual([console_.size.width, console_.size.height], [800, 600], `guest mode (log: ${labLog.slice(-5).join(' | ')})`);
    assert.deepEqual([g.status.width, g.status.height], [800, 600]);
    await page.waitForFunction(() => {
      const img = (window as unknown as { rfb: { getImageData(): ImageData } }).rfb.getImageData();
      return img.width === 800 && img.height === 600;
    }, undefined, { timeout: 20_000 });
    await page.close();
  });
});
