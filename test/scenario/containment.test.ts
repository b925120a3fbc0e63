// Hostile and broken guests are contained: one that writes garbage to every register (and GTT
// entries pointing everywhere) only ever reaches its own memory, and one that spins forever is
// terminated as hung. Meanwhile another VM on the same host keeps flipping, and the emulated
// kernel never oopses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlaneType } from '../../src/kms/PlaneType.ts';
import type { VmExit } from '../../src/guest/host/Vm.ts';
import { GuestVm } from '../../src/lab/GuestVm.ts';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import { bootToPrompt, newVm, primary, stepUntil, type } from './Scenario.ts';

const GARBAGE = new URL('./fixtures/Garbage.ts', import.meta.url);
const HANG = new URL('../../src/testkit/guest/Hang.ts', import.meta.url);

async function flippingVm(host: EmulatedHost, kind: 'gvt' | 'bochs', name: string): Promise<GuestVm> {
  const g = newVm(host, kind, { name, monitor: { width: 640, height: 480 } });
  await bootToPrompt(g);
  await type(g, 'flip-demo\n');
  await stepUntil(g, () => g.status.activeVt === 7 && g.status.animating, 'animating', 50);
  return g;
}

/** Every exported plane of `g` maps only pages of its own memory. */
function checkExports(g: GuestVm): number {
  let mapped = 0;
  for (const type of [PlaneType.PRIMARY, PlaneType.CURSOR, PlaneType.OVERLAY]) {
    const p = g.display.capture(type);
    if (p.kind !== 'frame') continue;
    mapped++;
    for (const c of p.buffer.mapping.chunks) {
      assert.equal(c.buffer, g.vgpu.memory.buffer, `${g.name}: a mapping outside its own memory`);
    }
  }
  return mapped;
}

test('garbage in every register of a gvt and a bochs guest: contained; another VM keeps flipping', async (t) => {
  const host = new EmulatedHost();
  const good = await flippingVm(host, 'gvt', 'good');
  t.after(() => good.dispose());
  const ids = new Set<number>();
  for (let i = 0; i < 10; i++) {
    await good.step(1);
    ids.add(primary(good).dmabufId);
  }
  const goodCounters = host.ggtt.counters(good.vgpu.vmId);

  const evil = GuestVm.create({ host, kind: 'gvt', name: 'evil-gvt', program: GARBAGE, driverOptions: { seed: 1 } });
  const evilB = GuestVm.create({ host, kind: 'bochs', name: 'evil-bochs', program: GARBAGE, driverOptions: { seed: 2 } });
  t.after(() => { evil.dispose(); evilB.dispose(); });
  await evil.boot();
  await evilB.boot();
  evil.startVblank(4);
  evilB.startVblank(4);

  const flips0 = good.status.flips;
  let evilPlanes = 0;
  await stepUntil(good, () => {
    assert.ok(ids.has(primary(good).dmabufId), 'the good VM shows only its own buffers');
    evilPlanes += checkExports(evil) + checkExports(evilB);
    return good.status.flips - flips0 >= 60 && evil.status.writesApplied >= 160_000 &&
      evilB.status.writesApplied >= 30_000;
  }, 'good flips while the garbage flows', 100_000);

  assert.equal(evil.vm.state, 'running', `evil-gvt: ${JSON.stringify(evil.vm.exit)}`);
  assert.equal(evilB.vm.state, 'running', `evil-bochs: ${JSON.stringify(evilB.vm.exit)}`);
  assert.equal(host.kernel.oopses, 0, String(host.kernel.lastOops));
  assert.ok(evilPlanes > 0, 'some garbage planes were exported and checked');
  // The garbage GTT writes outside its slices were refused; the good VM's entries were untouched.
  assert.ok(host.ggtt.counters(evil.vgpu.vmId).droppedWrites > 0, 'foreign GTT writes dropped');
  assert.deepEqual(host.ggtt.counters(good.vgpu.vmId), goodCounters);
  const p = good.device.decodePlane(PlaneType.PRIMARY);
  assert.ok(p && typeof p === 'object', 'the good plane still decodes');
  assert.ok([...p.pages].every((pg) => pg < good.vgpu.memory.pageCount), 'good pages are its own');
  t.diagnostic(`evil writes: gvt ${evil.status.writesApplied}, bochs ${evilB.status.writesApplied}; ` +
    `evil planes mapped ${evilPlanes}; good flips ${good.status.flips - flips0}`);
});

test('a guest that spins forever is terminated as hung while another VM flips', async (t) => {
  const host = new EmulatedHost();
  const good = await flippingVm(host, 'bochs', 'good');
  t.after(() => good.dispose());
  const hang = GuestVm.create({ host, kind: 'gvt', name: 'spinner', program: HANG, watchdogMs: 300 });
  t.after(() => hang.dispose());
  let exit: VmExit | undefined;
  hang.vm.onExit((e) => { exit = e; });
  await hang.boot();
  hang.startVblank(4);
  const flips0 = good.status.flips;
  await stepUntil(good, () => exit !== undefined, 'the spinner declared hung', 200_000);
  assert.equal(exit!.reason, 'hung');
  assert.equal(hang.vm.state, 'hung');
  const flips1 = good.status.flips;
  assert.ok(flips1 > flips0, 'the good VM flipped while the other spun');
  await stepUntil(good, () => good.status.flips - flips1 >= 60, '60 more flips', 200);
  hang.dispose();
  assert.equal(host.vgpu(hang.uuid), undefined, 'the hung VM\'s vGPU is gone');
  assert.equal(host.kernel.oopses, 0);
});
