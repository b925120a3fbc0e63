import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { gvtMmio } from '../../lab/GuestMmio.ts';
import { EmulatedHost } from '../../vfio/EmulatedHost.ts';
import { buildEdid } from '../../vgpu/Edid.ts';
import type { GvtDevice } from '../../vgpu/gvt/GvtDevice.ts';
import type { DecodedPlane } from '../../vgpu/Plane.ts';
import { layoutForModifier } from '../../kms/Tiling.ts';
import { BTN, KEY } from '../os/Evdev.ts';
import { PROMPT } from '../os/Shell.ts';
import { Surface } from '../os/Surface.ts';
import { surfaceText } from '../os/TextOcr.ts';
import { Vm } from './Vm.ts';

/** A wait's guard against a hang (never a speed bound): generous for a loaded machine. */
const WAIT_MS = 60_000;

const edid = (width: number, height: number): Uint8Array => buildEdid({ width, height, name: 'test-monitor' });

/** A gvt vGPU and its guest worker, glued as the lab glues them, on a w×h monitor. */
function machine(w = 800, h = 600) {
  const vgpu = new EmulatedHost().createVgpu('gvt');
  const dev = vgpu.device as GvtDevice;
  const { memory, dirtyLog, link } = vgpu;
  link.setEdid(edid(w, h), true);
  const vm = new Vm({
    kind: 'gvt', memory, dirtyLog, mmio: gvtMmio(dev, link), name: 'gvt',
  });
  return { memory, dirtyLog, dev, link, vm };
}

/** OCR of the plane the device decodes (the guest's view; the lab reads the exported dma-buf). */
function screenText(vm: Vm, dev: GvtDevice): string[] {
  const d = dev.decodePlane(PlaneType.PRIMARY);
  if (!d || typeof d === 'number') return [];
  const tiling = layoutForModifier(d.modifier);
  if (!tiling) return [];
  // The guest writes a mode's registers one by one: between them the plane can be half set up
  // (new stride, old format). That is no screen yet, not an error.
  let s: Surface;
  try {
    s = new Surface(vm.memory, undefined, {
      pages: d.pages, width: d.width, height: d.height, stride: d.stride, format: d.drmFormat, tiling,
    });
  } catch (err) {
    if (err instanceof RangeError) return [];
    throw err;
  }
  return surfaceText(s);
}

/** The screen lines once one matches (substring, or a RegExp over all text); read on new content. */
async function waitForText(vm: Vm, dev: GvtDevice, match: string | RegExp): Promise<string[]> {
  const test = (lines: string[]): boolean =>
    typeof match === 'string' ? lines.some((l) => l.includes(match)) : match.test(lines.join('\n'));
  let key = NaN;
  let last: string[] = [];
  await vm.waitFor((st) => {
    const k = st.content + st.flips * 65_537;
    if (k === key) return false;
    key = k;
    last = screenText(vm, dev);
    return test(last);
  }, WAIT_MS, `text ${String(match)}`);
  return last;
}

function primary(dev: GvtDevice): DecodedPlane {
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
  const boot = await waitForText(vm, dev, PROMPT.trimEnd());
  assert.ok(boot.some((l) => l.includes('display: gvt, EDID preferred 800x600@60')), boot.join('\n'));
  const p0 = primary(dev);
  assert.deepEqual([p0.width, p0.height, p0.drmFormat, p0.modifier], [800, 600, DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.LINEAR]);
  assert.match(await vm.waitForLog('boot complete'), /prompt "root@vgpu:~# "/);

  // Every pixel write is in the dirty log: typing dirties fbcon pages only.
  dirtyLog.fetchAndClear(0, memory.pageCount, () => {});
  vm.typeText('echo hello from the guest\n');
  await waitForText(vm, dev, 'hello from the guest');
  const fbPages = new Set(p0.pages);
  const dirty: number[] = [];
  dirtyLog.fetchAndClear(0, memory.pageCount, (p) => dirty.push(p));
  assert.ok(dirty.length > 0 && dirty.every((p) => fbPages.has(p)), 'dirty.length > 0 && dirty.every((p) => fbPages.has(p))');

  vm.typeText('mode 10x10\n');
  await waitForText(vm, dev, 'mode: invalid size 10x10');
  assert.equal(identity(primary(dev)), identity(p0), 'a bad mode changes nothing');

  vm.typeText('info\n');
  const info = await waitForText(vm, dev, /gvt: PIPECONF=0x[0-9a-f]+ PLANE_CTL=0x8/);
  assert.ok(info.some((l) => l.includes('mode: 800x600 XRGB8888 linear')), 'info.some((l) => l.includes(\'mode: 800x600 XRGB8888 linear\'))');
});

test('startx, page flips, VT switching back to known buffers, a cursor plane', async (t) => {
  const { dev, vm } = machine(640, 480);
  t.after(() => vm.dispose());
  vm.startVblank(4);
  await vm.boot();
  await waitForText(vm, dev, PROMPT.trimEnd());
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
  await waitForText(vm, dev, 'flip-demo');
  assert.equal(identity(primary(dev)), fbcon);
  assert.equal(dev.decodePlane(PlaneType.CURSOR), null);
  vm.typeText('flip-demo off\n');
  await waitForText(vm, dev, 'flip-demo: off');

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
  await waitForText(vm, dev, 'vgpu-os 1.0 tty2');
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
  await waitForText(vm, dev, PROMPT.trimEnd());
  vm.typeText('mode 800x600@RGB565+xtiled\n');
  await waitForText(vm, dev, 'mode: 800x600 RGB565 x');
  const p = primary(dev);
  assert.deepEqual([p.width, p.height, p.drmFormat, p.modifier, p.stride], [800, 600, DRM_FORMAT.RGB565, DRM_FORMAT_MOD.I915_X_TILED, 2048]);
  const lines = screenText(vm, dev);
  assert.ok(lines.some((l) => l.includes('mode: 800x600 RGB565 x')), 'OCR reads the tiled RGB565 console');

  const { vm: vm2, dev: dev2, link: link2 } = machine(640, 480);
  t.after(() => vm2.dispose());
  vm2.startVblank(4);
  await vm2.boot();
  await waitForText(vm2, dev2, PROMPT.trimEnd());
  link2.setEdid(edid(1024, 768), true);
  await vm2.waitFor(() => primary(dev2).width === 1024, WAIT_MS, 'hotplug mode latched');
  assert.equal(primary(dev2).height, 768);
  await waitForText(vm2, dev2, PROMPT.trimEnd());
});
