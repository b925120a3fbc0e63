import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DirtyLog } from '../../gpu/DirtyLog.ts';
import { GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DecodedPlane } from '../../vgpu/Plane.ts';
import { BTN, KEY } from '../os/Evdev.ts';
import { PROMPT } from '../os/Shell.ts';
import { SimpleFbDevice } from './SimpleFbDevice.ts';
import { Vm } from './Vm.ts';

/** A wait's guard against a hang (never a speed bound): generous for a loaded machine. */
const WAIT_MS = 60_000;

function machine(w = 800, h = 600) {
  const memory = new GuestMemory(48 << 20);
  const dirtyLog = new DirtyLog(memory.pageCount);
  const dev = new SimpleFbDevice(memory, SimpleFbDevice.edid(w, h));
  const vm = new Vm({
    kind: 'simplefb', memory, dirtyLog, mmio: dev, name: 'sfb',
    scanout: () => dev.decodePlane(PlaneType.PRIMARY),
  });
  return { memory, dirtyLog, dev, vm };
}

function primary(dev: SimpleFbDevice): DecodedPlane {
  const p = dev.decodePlane(PlaneType.PRIMARY);
  assert.ok(p && typeof p === 'object', `primary plane: ${String(p)}`);
  return p;
}

/** The buffer identity the mediator keys dma-bufs on. */
function identity(p: DecodedPlane): string {
  return JSON.stringify([p.start, Array.from(p.pages), p.size, p.drmFormat, String(p.modifier), p.width, p.height]);
}

test('the guest OS boots in a worker, drives the device, and answers the shell', async (t) => {
  const { dev, vm, dirtyLog, memory } = machine();
  t.after(() => vm.dispose());
  vm.startVblank(4);
  await vm.boot();
  const boot = await vm.waitForText(PROMPT.trimEnd());
  assert.ok(boot.some((l) => l.includes('display: simplefb, EDID preferred 800x600@60')), boot.join('\n'));
  const p0 = primary(dev);
  assert.deepEqual([p0.width, p0.height, p0.drmFormat, p0.modifier], [800, 600, DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.LINEAR]);
  assert.match(await vm.waitForLog('boot complete'), /prompt "root@vgpu:~# "/);

  // Every pixel write is in the dirty log: typing dirties fbcon pages only.
  dirtyLog.fetchAndClear(0, memory.pageCount, () => {});
  vm.typeText('echo hello from the guest\n');
  await vm.waitForText('hello from the guest');
  const fbPages = new Set(p0.pages);
  const dirty: number[] = [];
  dirtyLog.fetchAndClear(0, memory.pageCount, (p) => dirty.push(p));
  assert.ok(dirty.length > 0 && dirty.every((p) => fbPages.has(p)), 'dirty.length > 0 && dirty.every((p) => fbPages.has(p))');

  vm.typeText('mode 10x10\n');
  await vm.waitForText('mode: invalid size 10x10');
  assert.equal(identity(primary(dev)), identity(p0), 'a bad mode changes nothing');

  vm.typeText('info\n');
  const info = await vm.waitForText(/simplefb: PRI_CTL=1/);
  assert.ok(info.some((l) => l.includes('mode: 800x600 XRGB8888 linear')), 'info.some((l) => l.includes(\'mode: 800x600 XRGB8888 linear\'))');
});

test('startx, page flips, VT switching back to known buffers, a cursor plane', async (t) => {
  const { dev, vm } = machine(640, 480);
  t.after(() => vm.dispose());
  vm.startVblank(4);
  await vm.boot();
  await vm.waitForText(PROMPT.trimEnd());
  const fbcon = identity(primary(dev));

  vm.typeText('flip-demo\n');
  const s = await vm.waitFor((st) => st.activeVt === 7 && st.animating, WAIT_MS, 'tty7');
  // Every flip the device latches, as the mediator sees it.
  const sessionBuffers = new Set<string>();
  const sub = dev.onDisplayEvent((e) => {
    if (e.kind === 'flip') sessionBuffers.add(identity(primary(dev)));
  });
  await vm.waitForFlips(s.flips + 20);
  sub.dispose();
  assert.equal(sessionBuffers.size, 2, 'the animation flips between two buffers');
  assert.ok(!sessionBuffers.has(fbcon), '!sessionBuffers.has(fbcon)');

  const cur = dev.decodePlane(PlaneType.CURSOR);
  assert.ok(cur && typeof cur === 'object', 'cur && typeof cur === \'object\'');
  assert.equal(cur.width, 64);
  assert.equal(cur.drmFormat, DRM_FORMAT.ARGB8888);
  assert.deepEqual([cur.xHot, cur.yHot], [0, 0]);
  vm.sendPointer({ x: 0x4000, y: 0x4000 });
  vm.sendPointer({ dx: 10, dy: -20 });
  await vm.waitFor(() => {
    const c = dev.decodePlane(PlaneType.CURSOR) as DecodedPlane;
    return c.xPos === 330 && c.yPos === 220;
  }, WAIT_MS, 'cursor at (330,220)');

  // Back to the console: the very same fbcon buffer, and no cursor plane.
  vm.switchVt(1);
  await vm.waitFor((st) => st.activeVt === 1, WAIT_MS, 'tty1');
  await vm.waitForText('flip-demo');
  assert.equal(identity(primary(dev)), fbcon);
  assert.equal(dev.decodePlane(PlaneType.CURSOR), null);
  vm.typeText('flip-demo off\n');
  await vm.waitForText('flip-demo: off');

  // And tty7 again: one of the session buffers we have seen.
  const before = vm.status.flips;
  vm.switchVt(7);
  // The VT switch is a plane update that latches at the next vblank.
  await vm.waitFor((st) => st.activeVt === 7 && !st.animating && st.flips > before, WAIT_MS, 'tty7 idle');
  const flips = vm.status.flips;
  assert.ok(sessionBuffers.has(identity(primary(dev))), 'sessionBuffers.has(identity(primary(dev)))');

  // Drag a window: content changes, so the session flips (to a known buffer).
  vm.sendPointer({ x: 0, y: 0 });
  vm.sendPointer({ dx: 40, dy: 40 });
  vm.sendKey(BTN.LEFT, true);
  vm.sendPointer({ dx: 25, dy: 10 });
  vm.sendKey(BTN.LEFT, false);
  await vm.waitForFlips(flips + 1);
  assert.ok(sessionBuffers.has(identity(primary(dev))), 'sessionBuffers.has(identity(primary(dev)))');

  vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F2);
  await vm.waitForText('vgpu-os 1.0 tty2');
  assert.equal(identity(primary(dev)), fbcon, 'tty2 shares the fbcon buffer');
  const exit = await vm.stop();
  assert.equal(exit.reason, 'halted');
  await vm.waitForLog('guest: halted');
});

test('mode changes at run time reach the device; a hotplug brings a new preferred mode', async (t) => {
  const { dev, vm } = machine(640, 480);
  t.after(() => vm.dispose());
  vm.startVblank(4);
  await vm.boot();
  await vm.waitForText(PROMPT.trimEnd());
  vm.typeText('mode 800x600@RGB565+xtiled\n');
  await vm.waitForText('mode: 800x600 RGB565 x');
  const p = primary(dev);
  assert.deepEqual([p.width, p.height, p.drmFormat, p.modifier, p.stride], [800, 600, DRM_FORMAT.RGB565, DRM_FORMAT_MOD.I915_X_TILED, 2048]);
  const lines = vm.screenText()!;
  assert.ok(lines.some((l) => l.includes('mode: 800x600 RGB565 x')), 'OCR reads the tiled RGB565 console');

  const { vm: vm2, dev: dev2 } = machine(640, 480);
  t.after(() => vm2.dispose());
  vm2.startVblank(4);
  await vm2.boot();
  await vm2.waitForText(PROMPT.trimEnd());
  dev2.plug(SimpleFbDevice.edid(1024, 768));
  await vm2.waitFor(() => primary(dev2).width === 1024, WAIT_MS, 'hotplug mode latched');
  assert.equal(primary(dev2).height, 768);
  await vm2.waitForText(PROMPT.trimEnd());
});
