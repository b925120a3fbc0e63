/**
 * A real QEMU VM in the viewer: qemu-system-x86_64 (TCG, -display dbus,p2p=yes) boots the test
 * guest; our QEMU D-Bus listener feeds the lab server; Debian's Chromium shows it. Checks are on
 * the viewer's own composed frame against QEMU's QMP screendump, pixel for pixel; keys typed in
 * the page go back through the server to QEMU's Keyboard interface and show up in the guest shell.
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
});
