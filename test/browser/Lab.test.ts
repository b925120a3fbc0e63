/**
 * The viewer against the REAL lab (no fake server): Lab.start boots a bochs and a gvt guest in
 * workers, their VfioDisplay clients feed the LabServer, and Debian's Chromium shows them. What
 * the page shows is read back with window.__vgpu.snapshot() and OCR'd with the guest's own font,
 * so every check is on pixels that went the whole way: guest → vGPU → dma-buf → server → wire →
 * WebGL. Input goes the other way through real page events (keyboard, menu, mouse).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { FONT_HEIGHT, FONT_WIDTH } from '../../src/guest/os/Font8x16.ts';
import { OS_NAME, OS_VERSION } from '../../src/guest/os/GuestOs.ts';
import { Scene } from '../../src/guest/os/Scene.ts';
import { PROMPT } from '../../src/guest/os/Shell.ts';
import { Tty } from '../../src/guest/os/Tty.ts';
import { ocrGrid } from '../../src/guest/os/TextOcr.ts';
import { Lab } from '../../src/lab/Lab.ts';
import { preferredMode } from '../../src/vgpu/Edid.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';
import { ViewerPage, WAIT_GUARD_MS } from './Harness.ts';

const BOCHS = 'bochs-1';
const GVT = 'gvt-2';
const PROMPT_LINE = PROMPT.trimEnd();

let lab: Lab;
let browser: Browser;
const labLog: string[] = [];

before(async () => {
  [lab, browser] = await Promise.all([
    Lab.start({ vms: ['bochs', 'gvt'], refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0,
      log: (l) => labLog.push(l) }),
    launchChromium(),
  ]);
});

after(async () => {
  await browser?.close();
  await lab?.stop();
});

const pages: ViewerPage[] = [];
afterEach(async () => {
  for (const v of pages.splice(0)) {
    const errors = [...v.pageErrors];
    await v.close().catch(() => {});
    assert.deepEqual(errors, [], 'no uncaught exception in the page');
  }
});

function guest(name: string): Lab['guests'][number] {
  const g = lab.guests.find((x) => x.name === name);
  assert.ok(g, `lab has ${name} (log:\n${labLog.join('\n')})`);
  return g;
}

/** A viewer page on one VM, once it shows a picture. */
async function open(vm: string, params: Record<string, string> = {},
  viewport = { width: 1000, height: 700 }): Promise<ViewerPage> {
  // resize=off unless a test asks: the guests keep their EDID modes between tests.
  const v = await ViewerPage.open(browser, lab.server!, { params: { vm, resize: 'off', ...params }, viewport });
  pages.push(v);
  await v.waitFor(`s.vm === ${JSON.stringify(vm)} && s.primaryId !== null && s.frameWidth > 0`);
  return v;
}

/** The viewer's composed frame (guest resolution), read as text with the guest's font. */
async function viewerText(v: ViewerPage): Promise<string[]> {
  const img = await v.snapshot();
  const px = new Uint32Array(img.rgba.buffer, img.rgba.byteOffset, img.rgba.byteLength >> 2);
  return ocrGrid((x, y) => px[y * img.width + x]!, Math.floor(img.width / FONT_WIDTH),
    Math.floor(img.height / FONT_HEIGHT));
}

const shown = (lines: readonly string[]): string => lines.filter((l) => l !== '').slice(-12).join('\n');

/**
 * Read the viewer's frame until `test` holds; between reads, wait (bounded) for the viewer to
 * receive or present something new. Fails with what the frame showed last.
 */
async function waitForText(v: ViewerPage, what: string, test: (lines: string[]) => boolean,
  timeoutMs = WAIT_GUARD_MS): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await v.state();
    const lines = await viewerText(v);
    if (test(lines)) return lines;
    if (Date.now() > deadline) throw new Error(`the viewer never showed ${what}; its frame reads:\n${shown(lines)}`);
    await v.waitFor(`s.presents > ${s.presents} || s.bytesReceived > ${s.bytesReceived}`, 1000).catch(() => {});
  }
}

/** The line with the shell's last prompt (the cursor's line). */
const lastPrompt = (lines: readonly string[]): string | undefined => lines.filter((l) => l.startsWith(PROMPT_LINE)).at(-1);

/** Pick an entry of the Send-key menu the way a user does: the <select> takes focus first. */
async function sendKeyMenu(v: ViewerPage, label: string): Promise<void> {
  await v.page.focus('#vg-sendkey');
  await v.page.selectOption('#vg-sendkey', label);
}

describe('viewer on the real lab', () => {
  it('shows the guest fbcon: the frame reads like the exported plane, prompt included', async () => {
    const g = guest(BOCHS);
    const v = await open(BOCHS, { stats: '1' });
    const lines = await waitForText(v, 'the welcome line and the prompt',
      (l) => l.some((x) => x.includes(`Welcome to ${OS_NAME}`)) && lastPrompt(l) === PROMPT_LINE);
    const s = await v.state();
    assert.deepEqual([s.frameWidth, s.frameHeight], [g.status.width, g.status.height]);
    // The host's OCR of the dma-buf it exported reads the same text as the browser's picture.
    assert.equal(shown(lines), shown(g.screenText()));
    // The stats overlay reads the server's STATS: the dma-buf path, nothing copied.
    const row = (name: string): Promise<string | null> => v.page.textContent(`.vg-stats tr[data-row="${name}"] td`);
    await v.page.waitForFunction(() => /GETs \d/.test(document.querySelector('.vg-stats tr[data-row="dmabuf"] td')?.textContent ?? ''),
      undefined, { timeout: WAIT_GUARD_MS });
    assert.equal(await row('copied'), '0 B (zero-copy)');
    assert.match((await row('refresh'))!, /^dirty · .*dma-buf$/);
    assert.match((await row('dmabuf'))!, /^GETs [1-9]\d* · hits \d+ · misses [1-9]\d* · cached [1-9]/);
  });

  it('the inspector says whether the host could scan the gvt primary out directly', async () => {
    const v = await open(GVT, { inspector: '1' });
    // The server's verdict arrives with STATS (once a second) for the buffer shown now.
    await v.page.waitForFunction(() => /direct scanout: /.test(document.querySelector('.vg-plane')?.textContent ?? ''));
    // One definition per item: the verdict is its own <dd>.
    const items = await v.page.$$eval('.vg-plane dd', (dds) => dds.map((d) => d.textContent ?? ''));
    const line = items.find((l) => l.startsWith('direct scanout: '));
    assert.match(line!, /^direct scanout: yes, host plane 31 \(primary\) of i915-like can show this \d+x\d+ \w+ \w+ buffer as it is$/);
  });

  it('Send-key Ctrl+Alt+F2 switches the guest to tty2 and the frame shows its banner and prompt', async () => {
    const g = guest(BOCHS);
    const v = await open(BOCHS);
    await sendKeyMenu(v, 'Ctrl+Alt+F2');
    // The whole frame: tty2's banner and prompt and nothing of tty1 left.
    await waitForText(v, 'the tty2 banner and prompt',
      (l) => shown(l) === `${OS_NAME} ${OS_VERSION} tty2\n${PROMPT_LINE}`);
    assert.equal(g.status.activeVt, 2);
  });

  it('keys typed in the page reach the guest: right after load, after a click, after the Send-key menu', async () => {
    const g = guest(BOCHS);
    const v = await open(BOCHS);
    // No click: the picture has the keyboard as soon as the page is up.
    await v.page.keyboard.type('echo on-load\n');
    await waitForText(v, 'the echo typed on load', (l) => l.includes('on-load') && lastPrompt(l) === PROMPT_LINE);
    // The menu leaves the keyboard with the picture, not with the <select>.
    await sendKeyMenu(v, 'Ctrl+Alt+F3');
    await waitForText(v, 'tty3', (l) => l[0] === `${OS_NAME} ${OS_VERSION} tty3`);
    await v.page.keyboard.type('help\n');
    const help = await waitForText(v, 'the help output',
      (l) => l.some((x) => /^ {2}help +list commands$/.test(x)) && lastPrompt(l) === PROMPT_LINE);
    assert.ok(help.includes(`${PROMPT_LINE} help`), `the command line was echoed:\n${shown(help)}`);
    // A click on the picture, then a key: still the guest's.
    await v.page.click('.vg-stage canvas', { position: { x: 30, y: 30 } });
    await v.page.keyboard.type('echo clicked\n');
    await waitForText(v, 'the echo after a click', (l) => l.includes('clicked') && lastPrompt(l) === PROMPT_LINE);
    assert.equal(g.status.activeVt, 3);
    assert.deepEqual((await v.state()).heldKeys, [], 'every key went up again');
  });

  it('resize=guest: RESIZE replugs the monitor (EDID region), the guest re-mode-sets, the frame matches the window', async () => {
    const g = guest(BOCHS);
    const before = { width: g.status.width, height: g.status.height };
    // What the device's display link goes through (the VFIO EDID region's writes).
    const link: string[] = [];
    const sub = g.vgpu.link.onChange(() => {
      const edid = g.vgpu.link.edid;
      const m = edid === undefined ? undefined : preferredMode(edid);
      link.push(g.vgpu.link.linkUp ? `up ${m?.width}x${m?.height}` : 'down');
    });
    const v = await open(BOCHS, { resize: 'guest', scale: 'fit' }, { width: 800, height: 560 });
    await v.waitFor('s.frameWidth === s.canvasWidth && s.frameHeight === s.canvasHeight');
    sub.dispose();
    const s = await v.state();
    assert.notDeepEqual([s.frameWidth, s.frameHeight], [before.width, before.height]);
    assert.ok(s.events.includes(`resize to ${s.canvasWidth}x${s.canvasHeight}`), s.events.join('\n'));
    assert.deepEqual(link, ['down', `up ${s.frameWidth}x${s.frameHeight}`], 'link down, new EDID, link up');
    // The guest saw a hotplug with the EDID the viewer asked for, and set that mode.
    const log = g.vm.logLines.join('\n');
    assert.match(log, new RegExp(`hotplug: preferred ${s.frameWidth}x${s.frameHeight}`));
    assert.match(log, new RegExp(`mode: ${s.frameWidth}x${s.frameHeight} `));
    assert.deepEqual([g.status.width, g.status.height], [s.frameWidth, s.frameHeight]);
    // The host's display client and the viewer both follow; fbcon is re-laid out at the new size.
    assert.deepEqual(lab.displays[lab.guests.indexOf(g)]!.console.size, { width: s.frameWidth, height: s.frameHeight });
    await waitForText(v, 'the prompt at the new size', (l) => lastPrompt(l) === PROMPT_LINE);
    // 1:1: a guest pixel per device pixel.
    assert.deepEqual(s.dest, { x: 0, y: 0, width: s.canvasWidth, height: s.canvasHeight });
  });

  it('gvt graphical session: the cursor plane shows and follows the page\'s mouse', async () => {
    const g = guest(GVT);
    const v = await open(GVT, { scale: 'fit' });
    // Back to the text console (the cursor plane goes away), then `startx` typed in the page.
    await sendKeyMenu(v, 'Ctrl+Alt+F1');
    await v.waitFor('s.cursor === null');
    await waitForText(v, 'the tty1 prompt', (l) => lastPrompt(l) === PROMPT_LINE);
    await v.page.keyboard.type('startx\n');
    await v.waitFor('s.cursor !== null');
    assert.equal(g.status.activeVt, 7);

    const s = await v.state();
    const box = (await v.page.locator('.vg-stage canvas').boundingBox())!;
    for (const [gx, gy] of [[400, 300], [1300, 850], [90, 1000]] as const) {
      // The page position of guest pixel (gx, gy)'s centre.
      const devX = s.dest.x + ((gx + 0.5) * s.dest.width) / s.frameWidth;
      const devY = s.dest.y + ((gy + 0.5) * s.dest.height) / s.frameHeight;
      await v.page.mouse.move(box.x + (devX * box.width) / s.canvasWidth, box.y + (devY * box.height) / s.canvasHeight);
      // The plane's top-left is the pointer minus the hotspot (one guest pixel of rounding).
      await v.waitFor(`s.cursor !== null && s.cursor.hotX !== 0xffffffff &&
        Math.abs(s.cursor.x + s.cursor.hotX - ${gx}) <= 1 && Math.abs(s.cursor.y + s.cursor.hotY - ${gy}) <= 1`);
      const c = (await v.state()).cursor!;
      // The composed frame has the arrow there: its white fill, 4 px right and 10 px down of the tip.
      const fill = await v.page.evaluate(([x, y]) => (window as unknown as {
        __vgpu: { readPixel(x: number, y: number): number[] | null } }).__vgpu.readPixel(x!, y!), [c.x + 4, c.y + 10]);
      assert.deepEqual(fill, [255, 255, 255, 255], `arrow fill at (${c.x + 4}, ${c.y + 10})`);
      assert.deepEqual(g.status.activeVt, 7);
    }
  });

  it('by default the gvt guest follows the window in device pixels (1:1), and gets its mode back when the viewer leaves', async () => {
    const g = guest(GVT);
    const before = { width: g.status.width, height: g.status.height };
    const v = await ViewerPage.open(browser, lab.server!, { params: { vm: GVT } });
    await v.waitFor('s.resizeSent !== null && s.frameWidth === s.areaWidth && s.frameHeight === s.areaHeight', 20_000);
    const s = await v.state();
    assert.notDeepEqual([s.frameWidth, s.frameHeight], [before.width, before.height]);
    assert.ok(s.frameWidth >= 640 && s.frameHeight >= 480, `${s.frameWidth}x${s.frameHeight}`);
    assert.deepEqual([s.scale, s.filter, s.dest.width, s.dest.height], ['1:1', 'nearest', s.canvasWidth, s.canvasHeight]);
    assert.deepEqual([g.status.width, g.status.height], [s.frameWidth, s.frameHeight]);
    const errors = [...v.pageErrors];
    await v.close();
    assert.deepEqual(errors, []);
    // The last viewer left: the server's hook plugs the original monitor back; the guest follows.
    await g.vm.waitFor((st) => st.width === before.width && st.height === before.height, 20_000,
      `the original ${before.width}x${before.height} mode`);
    assert.ok(labLog.some((l) => l === `${GVT}: last viewer left: original monitor restored`), labLog.join('\n'));
  });

  it('gvt desktop: typing goes to the Terminal window and echoes; a click starts flip-demo; flip → present shows', async () => {
    const g = guest(GVT);
    // The default: the guest follows the window (a smaller buffer than its 1920×1200 also keeps
    // this loaded machine's per-keystroke frames quick).
    const v = await open(GVT, { stats: '1', resize: 'auto' });
    if (g.status.activeVt !== 7) await sendKeyMenu(v, 'Ctrl+Alt+F7');
    await v.waitFor('s.cursor !== null && s.resizeSent !== null && s.frameWidth === s.areaWidth && s.frameHeight === s.areaHeight', 20_000);
    const { width, height } = g.status;
    assert.deepEqual([width, height], [(await v.state()).frameWidth, (await v.state()).frameHeight]);
    // Where the Terminal's text grid is (the scene's layout for this mode; no window was dragged).
    const tty = new Tty(99, 1, 1);
    const scene = new Scene(width, height, 0, tty);
    const term = scene.windows.find((w) => w.kind === 'term')!;
    const anim = scene.windows.find((w) => w.kind === 'anim')!;
    const terminalText = async (): Promise<string[]> => {
      const img = await v.snapshot();
      const px = new Uint32Array(img.rgba.buffer, img.rgba.byteOffset, img.rgba.byteLength >> 2);
      return ocrGrid((x, y) => px[y * img.width + x]!, tty.cols, tty.rows, term.x + 2 + 4, term.y + 2 + 20 + 2);
    };
    await v.page.keyboard.type('echo typed-on-the-desktop\n');
    // A frame per keystroke: on a busy 2-core machine the echo can take many seconds to settle.
    const deadline = Date.now() + 60_000;
    let lines = await terminalText();
    while (!(lines.includes(`${PROMPT_LINE} echo typed-on-the-desktop`) && lines.includes('typed-on-the-desktop'))) {
      assert.ok(Date.now() < deadline, `the Terminal window reads:\n${lines.join('\n')}`);
      const st = await v.state();
      await v.waitFor(`s.flips > ${st.flips} && s.presents > ${st.presents}`, 2000).catch(() => {});
      lines = await terminalText();
    }
    assert.equal(g.status.activeVt, 7, 'typing stayed on the desktop');

    // Click into flip-demo's window (scrolled into view: the guest is shown 1:1).
    const bx = anim.x + Math.floor(anim.w / 2);
    const by = anim.y + Math.floor(anim.h / 2);
    const at = await v.page.evaluate(([x, y]) => {
      const screen = document.querySelector('.vg-stage .vg-screen')!;
      screen.scrollTo(Math.max(0, x! - 300), Math.max(0, y! - 200));
      const c = screen.querySelector('canvas')!.getBoundingClientRect();
      return { x: c.left + (x! * c.width) / (screen.querySelector('canvas') as HTMLCanvasElement).width,
        y: c.top + (y! * c.height) / (screen.querySelector('canvas') as HTMLCanvasElement).height };
    }, [bx, by]);
    await v.page.mouse.click(at.x, at.y);
    await g.vm.waitFor((st) => st.animating, 10_000, 'flip-demo running');
    // Flips at vblank reach the page; each one's vblank → present is measured.
    await v.waitFor('s.flipsPresented >= 20 && s.flipToPresentP50 !== null', 20_000);
    const s = await v.state();
    assert.ok(s.flipToPresentP50! > 0 && s.flipToPresentP99! >= s.flipToPresentP50!, `p50 ${s.flipToPresentP50} p99 ${s.flipToPresentP99}`);
    await v.page.waitForFunction(() => /^p50 /.test(document.querySelector('.vg-stats tr[data-row="flip"] td')?.textContent ?? ''),
      undefined, { timeout: 5000 });
    const row = (await v.page.textContent('.vg-stats tr[data-row="flip"] td'))!;
    const m = /^p50 ([\d.]+) ms · p99 ([\d.]+) ms · dropped (\d+) of (\d+) · wire p50 ([\d.]+) ms$/.exec(row);
    assert.ok(m !== null && Number(m[1]) > 0 && Number(m[2]) > 0, row);
    // And a second click pauses it again.
    await v.page.mouse.click(at.x, at.y);
    await g.vm.waitFor((st) => !st.animating, 10_000, 'flip-demo paused');
  });
});
