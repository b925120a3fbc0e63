// Software rendering (startx --sw): the session draws into the buffer on screen and never flips.
// The host sees the content change through the dma-buf it already holds, with no flip, no
// register write and no new dmabuf_id; the dirty-page log names exactly the pages that changed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { KEY } from '../../src/guest/os/Evdev.ts';
import { PAGE_SIZE } from '../../src/gpu/GuestMemory.ts';
import { PlaneType } from '../../src/kms/PlaneType.ts';
import type { Mapping } from '../../src/vfio/Sys.ts';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import { bootToPrompt, KINDS, newVm, primary, shownId, stepUntil, type } from './Scenario.ts';

function digest(m: Mapping): string {
  const h = createHash('sha1');
  for (const c of m.chunks) h.update(c);
  return h.digest('hex');
}

/** Guest pages behind a mapping (its chunks are views of guest memory). */
function pagesOf(m: Mapping): Set<number> {
  const out = new Set<number>();
  for (const c of m.chunks) {
    const first = c.byteOffset / PAGE_SIZE;
    for (let i = 0; i < Math.ceil(c.byteLength / PAGE_SIZE); i++) out.add(first + i);
  }
  return out;
}

for (const kind of KINDS) {
  test(`${kind}: software rendering changes the content with no flip and no register write`, async (t) => {
    const host = new EmulatedHost();
    const g = newVm(host, kind);
    t.after(() => g.dispose());
    await bootToPrompt(g);
    const fbconId = primary(g).dmabufId;
    await type(g, 'startx --sw\n');
    await stepUntil(g, () => g.status.activeVt === 7 && shownId(g) !== 0 && shownId(g) !== fbconId, 'session on screen');
    // Animate it (from tty1, then back to tty7): every vblank now draws.
    g.vm.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1);
    await stepUntil(g, () => g.status.activeVt === 1 && shownId(g) === fbconId, 'tty1');
    await type(g, 'flip-demo\n');
    await stepUntil(g, () => g.status.activeVt === 7 && g.status.animating && shownId(g) !== 0 && shownId(g) !== fbconId, 'animating');
    await g.step(2);

    const shown = g.display.capture(PlaneType.PRIMARY);
    assert.ok(shown.kind === 'frame', `capture: ${shown.kind}`);
    const before = { ...g.status, hash: digest(shown.buffer.mapping), gets: g.display.stats.gets };
    let flipEvents = 0;
    const sub = g.device.onDisplayEvent((e) => { if (e.kind === 'flip') flipEvents++; });
    t.after(() => sub.dispose());
    g.vgpu.dirtyLog.fetchAndClear(0, g.vgpu.memory.pageCount, () => {});

    await stepUntil(g, () => g.status.framesRendered >= before.framesRendered + 30, '30 frames drawn', 60);
    const after = g.status;
    assert.equal(after.flips, before.flips, 'no flip latched in the guest');
    assert.equal(flipEvents, 0, 'no flip seen by the device');
    assert.equal(after.writesApplied, before.writesApplied, 'no register write');
    assert.notEqual(digest(shown.buffer.mapping), before.hash, 'the held dma-buf shows new pixels');
    const now = primary(g);
    assert.equal(now.dmabufId, shown.buffer.id, 'same buffer, same id');
    assert.equal(g.display.stats.gets, before.gets, 'no new GET');

    const dirty: number[] = [];
    g.vgpu.dirtyLog.fetchAndClear(0, g.vgpu.memory.pageCount, (p) => dirty.push(p));
    const front = pagesOf(shown.buffer.mapping);
    assert.ok(dirty.length > 0, 'the dirty log reports the drawing');
    assert.ok(dirty.every((p) => front.has(p)), 'every dirty page belongs to the buffer on screen');
    assert.ok(dirty.length < front.size, `only what changed: ${dirty.length} of ${front.size} pages`);
  });
}
