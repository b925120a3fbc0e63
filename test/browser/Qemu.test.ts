/**
 * A real QEMU VM in the viewer: qemu-system-x86_64 (TCG, -display dbus,p2p=yes) boots the test
 * guest; our QEMU D-Bus listener feeds the lab server; Debian's Chromium shows it. Checks are on
 * the viewer's own composed frame against QEMU's QMP screendump, pixel for pixel; keys typed in
 * the page go back through the server to QEMU's Keyboard interface and show up in the guest shell;
 * mouse moves and clicks on the page reach the guest's PS/2 mouse, as the guest's own evdev log
 * (test/qemu/inputlog.c on the serial line) reports them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { charKey } from '../../src/guest/os/Evdev.ts';
import { Lab } from '../../src/lab/Lab.ts';
import { QemuMachine } from '../../src/qemu/QemuMachine.ts';
import { parseQemuSpec } from '../../src/qemu/QemuSession.ts';
import { QemuProcess, testGuest, waitFor } from '../../src/testkit/node/QemuProcess.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';
import { ViewerPage } from './Harness.ts';

let q: QemuProcess;
let m: QemuMachine;
let lab: Lab;
let browser: Browser;

before(async () => {
  testGuest();
  q = QemuProcess.start({ mode: 'p2p' });
  await q.waitSerial('GUEST-READY');
  await waitFor(async () => (await q.vgaText()).includes('guest#'), 'the shell prompt');
  m = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1');
  [lab, browser] = await Promise.all([
    Lab.start({ vms: [], extraVms: m.views, refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0, log: () => undefined }),
    launchChromium(),
  ]);
});

after(async () => {
  await browser?.close();
  await lab?.stop();
  m?.dispose();
  await q?.stop();
});

/** Pixels that differ between the viewer's frame and QEMU's screendump, or why they cannot match. */
async function differs(v: ViewerPage): Promise<number | string> {
  const img = await v.snapshot();
  const dump = await q.screendump();
  if (img.width !== dump.width || img.height !== dump.height) return `viewer ${img.width}x${img.height}, screendump ${dump.width}x${dump.height}`;
  let n = 0;
  for (let i = 0, j = 0; j < dump.rgb.length; i += 4, j += 3) {
    if (img.rgba[i] !== dump.rgb[j] || img.rgba[i + 1] !== dump.rgb[j + 1] || img.rgba[i + 2] !== dump.rgb[j + 2]) n++;
  }
  return n;
}

/** A character as a user types it: Shift held (its own keydown) for shifted characters. */
async function typeChar(v: ViewerPage, ch: string): Promise<void> {
  const shifted = charKey(ch)?.shift === true;
  if (shifted) await v.page.keyboard.down('Shift');
  await v.page.keyboard.type(ch);
  if (shifted) await v.page.keyboard.up('Shift');
}

/** Shifted characters of a US keyboard (what the guest's keymap makes of Shift + key). */
const SHIFTED: Record<string, string> = { '1': '!', '2': '@', '3': '#', '4': '$', '5': '%', '6': '^', '7': '&', '8': '*', '9': '(', '0': ')', '-': '_', '=': '+', '/': '?', '.': '>', ',': '<' };

/** Sum of `axis` values the guest logged for its PS/2 mouse in `log` (whole lines only). */
function sumAxis(log: string, axis: string): number {
  let n = 0;
  for (const m of log.slice(0, log.lastIndexOf('\n') + 1).matchAll(new RegExp(`^INPUT event\\d+ .*\\b${axis}=(-?\\d+)`, 'gm'))) n += Number(m[1]);
  return n;
}

async function waitSame(v: ViewerPage, what: string): Promise<void> {
  let last: number | string = '';
  await waitFor(async () => (last = await differs(v)) === 0, `${what}: the viewer's frame equal to QMP screendump (last: ${last})`, 150_000);
}

describe('a QEMU VM in the viewer (Chromium, real QEMU)', { timeout: 900_000 }, () => {
  it('shows the VM pixel for pixel; typed keys (shifted, arrows) reach the guest shell and echo back', async () => {
    const v = await ViewerPage.open(browser, lab.server!, { params: { vm: 'qemu-1' } });
    try {
      await v.waitFor('s.vm === "qemu-1" && s.primaryId !== null && s.frameWidth === 720', 150_000);
      await waitSame(v, 'the prompt');
      // One key at a time, each waited for on the guest's screen: QEMU 7.2's PS/2 queue is 16 bytes.
      const text = 'echo "Ab(';
      for (let i = 0; i < text.length; i++) {
        await typeChar(v, text[i]!);
        const want = `guest# ${text.slice(0, i + 1)}`;
        await waitFor(async () => (await q.vgaText()).includes(want), `'${want}' on the guest console`, 150_000);
      }
      // Left arrow twice, then insert: busybox's line editor moves the cursor.
      await v.page.keyboard.press('ArrowLeft');
      await v.page.keyboard.press('ArrowLeft');
      await typeChar(v, 'Z');
      await waitFor(async () => (await q.vgaText()).includes('guest# echo "AZb('), 'the arrow-key edit', 150_000);
      await v.page.keyboard.press('End');
      await typeChar(v, ')');
      await waitFor(async () => (await q.vgaText()).includes('guest# echo "AZb()'), 'End then )', 150_000);
      await typeChar(v, '"');
      await waitFor(async () => (await q.vgaText()).includes('guest# echo "AZb()"'), 'the closing quote', 150_000);
      await v.page.keyboard.press('Enter');
      await waitFor(async () => (await q.vgaText()).split('\n').some((l) => l.startsWith('AZb()')), 'the echo output', 150_000);
      await waitSame(v, 'after typing');
      const s = await v.state();
      assert.ok(s.bytesReceived > 0, 'the viewer received the frames over its socket');
    } finally {
      const errors = [...v.pageErrors];
      await v.close();
      assert.deepEqual(errors, [], 'no uncaught exception in the page');
    }
  });

  it('a 200-character burst typed in the page arrives whole in the guest (paced past QEMU\'s 16-byte PS/2 queue)', async () => {
    const v = await ViewerPage.open(browser, lab.server!, { params: { vm: 'qemu-1' } });
    try {
      await v.waitFor('s.vm === "qemu-1" && s.primaryId !== null && s.frameWidth === 720', 150_000);
      // Segments typed back to back, no wait on the guest between keys: a paste, in effect.
      const segments: [boolean, string][] = [
        [false, 'echo \''], [false, 'the quick brown fox jumps over the lazy dog 0123456789 '], [true, 'pack my box with five dozen liquor jugs '],
        [false, 'sphinx of black quartz, judge my vow. -=/ '], [true, '1234567890-=/., '], [false, 'how vexingly quick daft zebras jump; the end of it all.'],
      ];
      const shown = (shift: boolean, t: string): string => (shift ? [...t].map((c) => SHIFTED[c] ?? c.toUpperCase()).join('') : t);
      const payload = segments.slice(1).map(([sh, t]) => shown(sh, t)).join('');
      assert.ok(payload.length >= 200, `${payload.length} characters`);
      const dropped0 = m.views[0]!.input.dropped;
      const keys0 = m.views[0]!.input.keys;
      for (const [shift, text] of segments) {
        if (shift) await v.page.keyboard.down('Shift');
        await v.page.keyboard.type(text);
        if (shift) await v.page.keyboard.up('Shift');
      }
      // `' >/dev/ttyS0` and Enter (the page types by key position: '>' is Shift + '.', 'S' Shift + 's').
      for (const [shift, text] of [[false, '\' '], [true, '.'], [false, '/dev/tty'], [true, 's'], [false, '0\n']] as const) {
        if (shift) await v.page.keyboard.down('Shift');
        await v.page.keyboard.type(text);
        if (shift) await v.page.keyboard.up('Shift');
      }
      // The shell writes the line it got to the serial log: every character, in order.
      const line = await waitFor(() => q.serial().split(/\r?\n/).slice(0, -1).find((l) => l.startsWith('the quick')), 'the echoed line on the serial log (whole: its newline written)', 150_000).catch(async (e: Error) => {
        throw new Error(`${e.message}; the guest console ends with:\n${(await q.vgaText()).split('\n').filter((l) => l.trim()).slice(-6).join('\n')}`);
      });
      // Every key edge reached our queue (2 per character, 2 per shift segment), so a miss below is the guest's.
      const edges = segments.reduce((n, [sh, t]) => n + 2 * t.length + (sh ? 2 : 0), 0) + 2 * "' ./dev/ttys0\n".length + 4;
      await waitFor(() => m.views[0]!.input.keys === keys0 + edges || undefined, `${edges} key edges from the page (have ${m.views[0]!.input.keys - keys0})`);
      assert.equal(line, payload);
      assert.equal(m.views[0]!.input.dropped, dropped0, 'no key dropped by the bounded queue');
    } finally {
      await v.close();
    }
  });

  it('a mouse move and clicks in the page reach the guest\'s PS/2 mouse (its evdev log on the serial line)', async () => {
    const v = await ViewerPage.open(browser, lab.server!, { params: { vm: 'qemu-1' } });
    try {
      await v.waitFor('s.vm === "qemu-1" && s.primaryId !== null && s.frameWidth === 720', 150_000);
      await q.waitSerial(/INPUT-DEVICE event\d+ rel .*PS\/2/);
      assert.equal(m.views[0]!.info.absoluteMouse, false, 'a PS/2 mouse only: QEMU says relative');
      const s = await v.state();
      const box = (await v.page.locator('.vg-stage canvas').boundingBox())!;
      // The page position of guest pixel (gx, gy)'s centre.
      const at = (gx: number, gy: number): [number, number] => [
        box.x + ((s.dest.x + ((gx + 0.5) * s.dest.width) / s.frameWidth) * box.width) / s.canvasWidth,
        box.y + ((s.dest.y + ((gy + 0.5) * s.dest.height) / s.frameHeight) * box.height) / s.canvasHeight,
      ];
      // First move: wherever the pointer was, it ends at (100, 80) in the guest's deltas' terms.
      await v.page.mouse.move(...at(100, 80));
      await waitFor(() => m.views[0]!.pendingInput === 0 || undefined, 'the first move sent');
      await waitFor(() => /INPUT event\d+ REL_/.test(q.serial()) || undefined, 'the first move in the guest');
      let mark = q.serial().length;
      // Then (300, 200) → (250, 260): the guest's relative deltas add up to the page's moves.
      await v.page.mouse.move(...at(300, 200));
      await v.page.mouse.move(...at(250, 260));
      await waitFor(() => {
        const log = q.serial().slice(mark);
        return (sumAxis(log, 'REL_X') === 150 && sumAxis(log, 'REL_Y') === 180) || undefined;
      }, 'REL_X +150 and REL_Y +180 in the guest\'s log');
      mark = q.serial().length;
      await v.page.mouse.down();
      await v.page.mouse.up();
      await v.page.mouse.down({ button: 'right' });
      await v.page.mouse.up({ button: 'right' });
      await waitFor(() => /BTN_LEFT=1[^]*BTN_LEFT=0[^]*BTN_RIGHT=1[^]*BTN_RIGHT=0/.test(q.serial().slice(mark)) || undefined, 'left then right click in the guest');
      assert.equal(sumAxis(q.serial().slice(mark), 'REL_X'), 0, 'a click in place does not move');
      assert.equal(m.views[0]!.input.errors, 0, m.views[0]!.input.lastError);
    } finally {
      const errors = [...v.pageErrors];
      await v.close();
      assert.deepEqual(errors, [], 'no uncaught exception in the page');
    }
  });
});
