import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { charKey, KEY } from '../guest/os/Evdev.ts';
import { PrivateBus } from '../testkit/node/PrivateBus.ts';
import { QemuProcess, testGuest, waitFor } from '../testkit/node/QemuProcess.ts';
import { QemuMachine } from './QemuMachine.ts';
import { consolePath, parseQemuSpec } from './QemuSession.ts';
import { renderConsole } from './QemuSnapshot.ts';
import type { QemuView } from './QemuView.ts';

const LSHIFT = 42;

/**
 * Type `line` and Enter as a user would (evdev codes, shift held for shifted characters), one
 * character at a time, waiting for its echo on the guest's console before the next: QEMU 7.2's
 * PS/2 queue holds 16 bytes and drops what a burst adds beyond that.
 */
async function typeLine(q: QemuProcess, view: QemuView, line: string): Promise<void> {
  for (let i = 0; i < line.length; i++) {
    const k = charKey(line[i]!);
    assert.ok(k, `no key for '${line[i]}'`);
    if (k.shift) view.sendKey(LSHIFT, true);
    view.sendKey(k.code, true);
    view.sendKey(k.code, false);
    if (k.shift) view.sendKey(LSHIFT, false);
    const typed = `guest# ${line.slice(0, i + 1)}`;
    await waitFor(async () => (await q.vgaText()).includes(typed), `'${typed}' echoed`);
  }
  view.sendKey(KEY.ENTER, true);
  view.sendKey(KEY.ENTER, false);
}

/** Pixels that differ between our picture (RGBA) and QEMU's screendump (RGB). */
function diff(view: QemuView, dump: { width: number; height: number; rgb: Uint8Array }): number | string {
  const p = renderConsole(view.console);
  if (p.width !== dump.width || p.height !== dump.height) return `size ${p.width}x${p.height} vs screendump ${dump.width}x${dump.height}`;
  let n = 0;
  for (let i = 0, j = 0; i < p.rgba.length; i += 4, j += 3) {
    if (p.rgba[i] !== dump.rgb[j] || p.rgba[i + 1] !== dump.rgb[j + 1] || p.rgba[i + 2] !== dump.rgb[j + 2]) n++;
  }
  return n;
}

/** Wait until our picture and QEMU's screendump agree pixel for pixel (the guest settled). */
async function waitSame(q: QemuProcess, view: QemuView, what: string): Promise<void> {
  let last: number | string = 'nothing shown';
  await waitFor(async () => {
    if (!view.console.scanout) return undefined;
    last = diff(view, await q.screendump());
    return last === 0;
  }, `${what}: our picture equal to QMP screendump (last: ${last})`, 150_000);
}

/** A Press/Release round trip: calls on one connection are answered in order, so when this
 *  keyboard call is answered, QEMU has handled every earlier input call. */
async function type1(view: QemuView): Promise<void> {
  const keys = view.input.keys;
  view.sendKey(KEY.LEFTSHIFT, true);
  view.sendKey(KEY.LEFTSHIFT, false);
  await waitFor(() => view.input.keys === keys + 2 && view.pendingInput === 0, 'input calls answered');
}

describe('QEMU D-Bus display (real qemu-system-x86_64, TCG)', { timeout: 900_000 }, () => {
  before(() => { testGuest(); });

  it('p2p via QMP add_client: the VGA text console pixel for pixel, keys typed into the shell, PS/2 mouse moves, buttons and wheel in the guest', async () => {
    const q = QemuProcess.start({ mode: 'p2p' });
    let m: QemuMachine | undefined;
    try {
      await q.qmp().then((c) => c.close());
      m = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1');
      const view = m.views[0]!;
      assert.equal(m.views.length, 1, 'one graphic console (VGA)');
      assert.equal(view.info.label, 'VGA');
      await q.waitSerial('GUEST-READY');
      await waitFor(async () => (await q.vgaText()).includes('guest#'), 'the shell prompt on the VGA console');
      await waitSame(q, view, 'the prompt');
      assert.equal(view.console.size.width, 720, 'VGA text mode is 720 pixels wide');
      assert.ok(view.registrations >= 2, `7.2 changed to text mode without a Scanout: re-registered (${view.registrations})`);
      assert.ok(view.listener.stats.bytesCopied > 0, 'pixel bytes copied out of Scanout/Update are counted');

      await typeLine(q, view, 'echo "Hi_$((6*7))"');
      await waitFor(async () => (await q.vgaText()).includes('Hi_42'), 'the echo on the guest console');
      await waitSame(q, view, 'after typing');
      assert.equal(view.input.errors, 0, `input calls succeeded (${view.input.lastError})`);

      // What QemuInput calls is what this QEMU declares (its own introspection XML).
      const xml = String((await m.session!.call({ path: consolePath(view.info.id), interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', signature: '', body: [] })).body[0]);
      const methods = (iface: string): string[] => {
        const body = new RegExp(`<interface name="${iface.replace(/\./g, '\\.')}">([^]*?)</interface>`).exec(xml)?.[1] ?? '';
        return [...body.matchAll(/<method name="(\w+)">([^]*?)<\/method>/g)].map((x) => `${x[1]}(${[...x[2]!.matchAll(/type="(\w+)"/g)].map((a) => a[1]).join('')})`).sort();
      };
      assert.deepEqual(methods('org.qemu.Display1.Mouse'), ['Press(u)', 'RelMotion(ii)', 'Release(u)', 'SetAbsPosition(uu)']);
      assert.deepEqual(methods('org.qemu.Display1.Keyboard'), ['Press(u)', 'Release(u)']);
      assert.match(xml, /<property type="b" name="IsAbsolute" access="read"\/>/);

      // The guest's PS/2 mouse (relative) as its evdev log reports it: a move larger than one
      // PS/2 packet, the middle button, the wheel both ways.
      await q.waitSerial(/INPUT-DEVICE event\d+ rel .*PS\/2/);
      assert.equal(view.info.absoluteMouse, false, 'QEMU says relative (no tablet)');
      const mark = q.serial().length;
      view.sendPointer({ kind: 'rel', dx: 200, dy: -30, buttons: 0 });
      view.sendPointer({ kind: 'rel', dx: 0, dy: 0, buttons: 4 });
      view.sendPointer({ kind: 'rel', dx: 0, dy: 0, buttons: 0, wheel: 2 });
      view.sendPointer({ kind: 'rel', dx: 0, dy: 0, buttons: 0, wheel: -1 });
      const log = await waitFor(() => {
        const l = q.serial().slice(mark, q.serial().lastIndexOf('\n') + 1);
        return (/BTN_MIDDLE=0/.test(l) && [...l.matchAll(/REL_WHEEL=(-?\d+)/g)].length >= 3) ? l : undefined;
      }, 'the middle click and three wheel steps in the guest');
      const sum = (axis: string): number => [...log.matchAll(new RegExp(`\\b${axis}=(-?\\d+)`, 'g'))].reduce((n, x) => n + Number(x[1]), 0);
      assert.deepEqual([sum('REL_X'), sum('REL_Y')], [200, -30], 'the move, split in PS/2-sized calls, adds up');
      assert.deepEqual([...log.matchAll(/REL_WHEEL=(-?\d+)/g)].map((x) => Number(x[1])), [1, 1, -1], 'wheel up twice, down once');
      assert.match(log, /BTN_MIDDLE=1[^]*BTN_MIDDLE=0/);
      await type1(view);
      assert.equal(view.input.errors, 0, `QEMU accepted every mouse call (${view.input.lastError})`);
    } finally {
      m?.dispose();
      await q.stop();
    }
  });

  it('virtio-vga: the viewer\'s size goes as SetUIInfo (the guest sees its preferred mode, the picture follows); a guest KMS cursor arrives as CursorDefine/MouseSet', async () => {
    const q = QemuProcess.start({ mode: 'p2p', vga: 'virtio-vga', append: 'cursortest' });
    let m: QemuMachine | undefined;
    try {
      await q.qmp().then((c) => c.close());
      m = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-virtio');
      const view = m.views[0]!;
      // The guest prints its connector's preferred mode (virtio-gpu's default first).
      await q.waitSerial('DRM-MODE 1280x800');
      await waitFor(() => view.console.size.width === 1280 || undefined, 'the 1280x800 fbcon surface');
      view.requestResize(1000, 700);
      await q.waitSerial('DRM-MODE 1000x700');
      await waitFor(() => (view.console.size.width === 1000 && view.console.size.height === 700) || undefined, 'the console to follow to 1000x700');
      await waitSame(q, view, 'after the resize');
      assert.equal(view.input.resizeErrors + view.input.errors, 0, view.input.lastError);
      // The guest sets its cursor after the resize (test/qemu/init).
      // test/qemu/kmscursor.c: 64x64 ARGB, opaque red 16x16 at the top-left, hotspot (3, 5), at (200, 100).
      await q.waitSerial('CURSOR-SET');
      await waitFor(() => (view.console.cursor.buffer && view.listener.stats.mouseSets > 0) || undefined, 'CursorDefine and MouseSet');
      const cur = view.console.cursor;
      assert.deepEqual([cur.buffer!.width, cur.buffer!.height, cur.hotX, cur.hotY, cur.hotKnown], [64, 64, 3, 5, true]);
      assert.deepEqual([...cur.buffer!.mapping.chunks[0]!.subarray(0, 4)], [0, 0, 255, 255], 'ARGB red, stored B,G,R,A');
      assert.deepEqual([...cur.buffer!.mapping.chunks[0]!.subarray(16 * 4, 16 * 4 + 4)], [0, 0, 0, 0], 'transparent outside the square');
      const pos = view.console.cursorPosition;
      assert.deepEqual([pos.x + cur.hotX, pos.y + cur.hotY], [200, 100], 'MouseSet is the pointer (hotspot) position');
    } finally {
      m?.dispose();
      await q.stop();
    }
  });

  it('bus mode with a usb-tablet: absolute pointer in the guest; QEMU killed → status says so; restarted → the view comes back', async () => {
    const bus = await PrivateBus.start();
    const tablet = ['-device', 'qemu-xhci', '-device', 'usb-tablet'];
    let q = QemuProcess.start({ mode: 'bus', bus, extraArgs: tablet });
    let m: QemuMachine | undefined;
    try {
      const spec = parseQemuSpec(`dbus:${bus.address}`);
      m = await waitFor(() => QemuMachine.start(spec, 'qemu-bus', { retryMaxMs: 200 }), 'QEMU on the bus', 150_000);
      const view = m.views[0]!;
      await q.waitSerial('GUEST-READY');
      await waitSame(q, view, 'bus mode');

      // A usb-tablet makes QEMU's mouse absolute: positions go as SetAbsPosition, which QEMU
      // scales to the tablet's 0..32767 over the console's size.
      await q.waitSerial(/INPUT-DEVICE event\d+ abs xmax=32767 .*Tablet/);
      await waitFor(() => view.info.absoluteMouse || undefined, 'IsAbsolute true (PropertiesChanged on the bus)');
      const { width, height } = view.console.size;
      const mark = q.serial().length;
      view.sendPointer({ kind: 'abs', x: 360, y: 100, buttons: 0 });
      view.sendPointer({ kind: 'abs', x: 360, y: 100, buttons: 1 });
      view.sendPointer({ kind: 'abs', x: 360, y: 100, buttons: 0, wheel: -1 });
      const want = `ABS_X=${Math.floor((360 * 32767) / width)} ABS_Y=${Math.floor((100 * 32767) / height)}`;
      const log = await waitFor(() => {
        const l = q.serial().slice(mark, q.serial().lastIndexOf('\n') + 1);
        return /REL_WHEEL=-1\b/.test(l) ? l : undefined;
      }, 'the tablet\'s wheel step in the guest');
      assert.match(log, new RegExp(`${want}[^]*BTN_LEFT=1[^]*BTN_LEFT=0[^]*REL_WHEEL=-1`), `${want}, a click, a wheel step`);
      assert.equal(view.input.errors, 0, view.input.lastError);
      const dir = q.dir;
      await q.kill();
      await waitFor(() => view.console.status.reason === 'vm-stopped', 'status vm-stopped after QEMU was killed');
      assert.match(view.console.status.message, /QEMU went away/);
      assert.ok(view.console.scanout, 'the last picture stays');
      q = QemuProcess.start({ mode: 'bus', bus, dir, extraArgs: tablet });
      await waitFor(() => m!.reconnects >= 1 && view.console.status.reason === 'ok', 'the view to come back', 150_000);
      await q.waitSerial('GUEST-READY');
      await waitSame(q, view, 'after the restart');
    } finally {
      m?.dispose();
      await q.stop();
      bus.stop();
    }
  });
});
