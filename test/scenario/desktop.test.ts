// startx and page flipping as the host sees it: every flip the device reports is followed by a
// QUERY on the VMM's fd. A flipping session reuses its buffers, so its dmabuf_ids form a small set;
// VT switching goes back to buffers the host already knows (the same fbcon id every time).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KEY } from '../../src/guest/os/Evdev.ts';
import { PlaneType } from '../../src/kms/PlaneType.ts';
import { DRM_FORMAT } from '../../src/kms/Fourcc.ts';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import { bootToPrompt, KINDS, newVm, primary, screenHas, shownId, stepUntil, type } from './Scenario.ts';

for (const kind of KINDS) {
  test(`${kind}: startx flips; 600 flips use at most 3 dmabuf_ids; VT switches reuse fbcon's id`, async (t) => {
    const host = new EmulatedHost();
    const g = newVm(host, kind);
    t.after(() => g.dispose());
    await bootToPrompt(g);
    const fbconId = primary(g).dmabufId;

    // Every flip the device reports, and the id QUERY gives right after it.
    const ids: number[] = [];
    const sub = g.device.onDisplayEvent((e) => {
      if (e.kind === 'flip' && e.planeType === PlaneType.PRIMARY) ids.push(shownId(g));
    });
    t.after(() => sub.dispose());

    await type(g, 'startx\n');
    await stepUntil(g, () => g.status.activeVt === 7 && shownId(g) !== 0 && shownId(g) !== fbconId, 'session on screen');
    assert.ok(!screenHas(g, 'root@vgpu'), 'the console is gone from the plane');

    // Ctrl+Alt+F1: the console buffer again, under the same id.
    g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1);
    await stepUntil(g, () => g.status.activeVt === 1 && shownId(g) === fbconId, 'tty1 (first time)', 20);

    // Animate the session: a flip per vblank, paced by the test.
    await type(g, 'flip-demo\n');
    await stepUntil(g, () => g.status.activeVt === 7 && g.status.animating, 'tty7 animating', 20);
    const start = ids.length;
    const flips0 = g.status.flips;
    await stepUntil(g, () => ids.length - start >= 60, '60 flips', 200);
    await stepUntil(g, () => ids.length - start >= 600, '600 flips', 1200);
    const seen = new Set(ids.slice(start, start + 600));
    assert.ok(seen.size <= 3, `distinct dmabuf_ids over 600 flips: ${[...seen].join(', ')}`);
    assert.ok(seen.size >= 2, 'double buffered: at least two ids');
    assert.ok(!seen.has(fbconId), 'the session never shows the console buffer');
    assert.ok(g.status.flips - flips0 >= 600, `the guest latched ${g.status.flips - flips0} flips`);
    const p = primary(g);
    assert.deepEqual([p.width, p.height, p.drmFormat], [800, 600, DRM_FORMAT.XRGB8888]);

    // Ctrl+Alt+F1 → F7 → F1: the console comes back under the same id both times; tty7 is known.
    g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1);
    await stepUntil(g, () => g.status.activeVt === 1 && shownId(g) === fbconId, 'tty1 (second time)', 20);
    g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F7);
    await stepUntil(g, () => g.status.activeVt === 7 && seen.has(shownId(g)), 'tty7 again', 20);
    g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1);
    await stepUntil(g, () => g.status.activeVt === 1 && shownId(g) === fbconId, 'tty1 (third time)', 20);
    assert.ok(screenHas(g, 'flip-demo'), 'tty1 still shows what was typed');
    assert.equal(host.kernel.oopses, 0);
  });
}

test('gvt: the cursor plane follows the pointer, with its hotspot, only on tty7', async (t) => {
  const host = new EmulatedHost();
  const g = newVm(host, 'gvt');
  t.after(() => g.dispose());
  await bootToPrompt(g);
  assert.equal(g.query(PlaneType.CURSOR).info.drmFormat, 0, 'no cursor on the console');
  await type(g, 'startx\n');
  await stepUntil(g, () => g.status.activeVt === 7 && g.query(PlaneType.CURSOR).info.drmFormat !== 0, 'cursor plane');
  g.vm.sendPointer({ x: 0x4000, y: 0x4000 });
  g.vm.sendPointer({ dx: 10, dy: -20 });
  await stepUntil(g, () => {
    const c = g.query(PlaneType.CURSOR).info;
    return c.xPos === 410 && c.yPos === 280;
  }, 'cursor at (410,280)', 20);
  const c = primary(g, PlaneType.CURSOR);
  assert.deepEqual([c.width, c.height, c.drmFormat, c.xHot, c.yHot], [64, 64, DRM_FORMAT.ARGB8888, 0, 0]);
  // The crosshair cursor's hotspot is its centre; the plane is placed so the hotspot is on the pointer.
  g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1);
  await type(g, 'startx --crosshair\n');
  await stepUntil(g, () => g.status.activeVt === 7 && g.query(PlaneType.CURSOR).info.xHot === 31, 'crosshair');
  g.vm.sendPointer({ x: 0x4000, y: 0x4000 });
  g.vm.sendPointer({ dx: 10, dy: -20 });
  await stepUntil(g, () => {
    const x = g.query(PlaneType.CURSOR).info;
    return x.xPos + x.xHot === 410 && x.yPos + x.yHot === 280;
  }, 'crosshair hotspot on the pointer', 20);
  g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1);
  await stepUntil(g, () => g.status.activeVt === 1 && g.query(PlaneType.CURSOR).info.drmFormat === 0, 'cursor off', 20);
});
