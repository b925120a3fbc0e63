// Lifecycles (issue 8 item 3): VMs that go away while the host and remote viewers still hold their
// buffers, guests killed mid-flip, a display client out of file descriptors, and thousands of
// create/destroy cycles. Nothing may leak, no exception may reach the host, the other VMs keep
// flipping, and every view says what happened (a status), never a silent black.
//
// The lab tests run the real Lab (guest workers, VfioDisplay on the dirty policy, LabServer with
// WebSocket viewers), or the same parts wired by hand for the timer policy, and wait on counts and
// content only. The cycle counts and heap slopes come from a child process run with --expose-gc
// (fixtures/LifecycleSoak.ts) and are printed as test diagnostics.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { Errno } from '../../src/base/Errno.ts';
import type { DisplayStatus } from '../../src/display/DisplayConsole.ts';
import { VfioDisplay } from '../../src/display/VfioDisplay.ts';
import type { GuestMemory } from '../../src/gpu/GuestMemory.ts';
import type { VmExit } from '../../src/guest/host/Vm.ts';
import { PROMPT } from '../../src/guest/os/Shell.ts';
import { PlaneType } from '../../src/kms/PlaneType.ts';
import { GuestVm } from '../../src/lab/GuestVm.ts';
import { Lab } from '../../src/lab/Lab.ts';
import { Msg, StatusCode, type ServerMessage } from '../../src/protocol/RemoteProtocol.ts';
import { ErrorCode } from '../../src/server/ClientSession.ts';
import { LabServer } from '../../src/server/LabServer.ts';
import { doubleBuffered, flip, gvtVm } from '../../src/testkit/node/LabRig.ts';
import { TestClient } from '../../src/testkit/node/TestClient.ts';
import { VmRegistry } from '../../src/server/VmRegistry.ts';
import { DmabufFile } from '../../src/vfio/DmabufFile.ts';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import type { EmulatedKernel } from '../../src/vfio/EmulatedKernel.ts';
import { EventFd } from '../../src/vfio/EventFd.ts';
import { PROT_READ } from '../../src/vfio/Sys.ts';
import { VfioDeviceFile, type VfioMdev } from '../../src/vfio/VfioMdev.ts';

/** Guard for every wait: the machine is shared with other suites; nothing here waits on time. */
const WAIT_MS = 60_000;

// ---- helpers -------------------------------------------------------------------------------

/** A lab of two gvt VMs (the shipped defaults: 1920×1200, dirty policy), both flipping. */
async function flippingLab(): Promise<Lab> {
  const lab = await Lab.start({
    vms: ['gvt', 'gvt'], refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0, log: () => {},
  });
  try {
    // The first VM runs the session (startx) on tty7: go back to the shell to start the demo.
    lab.guests[0]!.vm.switchVt(1);
    for (const g of lab.guests) g.vm.typeText('flip-demo\n');
    for (const g of lab.guests) {
      const s = await g.vm.waitFor((st) => st.animating && st.activeVt === 7, WAIT_MS, 'flip-demo running');
      await g.vm.waitForFlips(s.flips + 5, WAIT_MS);
    }
    return lab;
  } catch (err) {
    await lab.stop();
    throw err;
  }
}

function viewerUrl(lab: Lab): string {
  return `ws://127.0.0.1:${lab.server!.port}/ws?stats=0`;
}

async function viewer(url: string, vm: string): Promise<TestClient> {
  const c = await TestClient.open(url);
  c.attach(vm);
  await c.next((m) => m.type === Msg.SCANOUT, `first SCANOUT of ${vm}`, 0, WAIT_MS);
  return c;
}

const isStatus = (...codes: StatusCode[]) => (m: ServerMessage): boolean =>
  m.type === Msg.STATUS && codes.includes(m.code);

function count(c: TestClient, type: Msg, from = 0): number {
  let n = 0;
  for (let i = from; i < c.messages.length; i++) if (c.messages[i]!.type === type) n++;
  return n;
}

/**
 * The protocol errors TestClient noted, except the one a detach causes by design: leaving a VM
 * (removed, or ATTACH to another) releases every buffer the viewer holds, the shown one too.
 */
function afterDetach(c: TestClient): string[] {
  return c.protocolErrors.filter((e) => !e.startsWith('BUFFER_RELEASE of the shown buffer'));
}

/** Resolves once the display's status satisfies `pred` (checked now and on every change). */
function statusWhere(d: VfioDisplay, pred: (s: DisplayStatus) => boolean, what: string): Promise<DisplayStatus> {
  if (pred(d.console.status)) return Promise.resolve(d.console.status);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`display status never became ${what}; last: ${JSON.stringify(d.console.status)}`));
    }, WAIT_MS);
    const sub = d.console.onStatus((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

/** Resolves once the display has shown `n` more scanouts (flips reaching the VMM's console). */
function scanouts(d: VfioDisplay, n: number, what: string): Promise<void> {
  let seen = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`${what}: ${seen} of ${n} scanouts`));
    }, WAIT_MS);
    const sub = d.console.onScanout(() => {
      if (++seen < n) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}

/** Resolves once `n` vblanks in a row reached the guest without a display event for `d`. */
async function quiet(g: GuestVm, d: VfioDisplay, n: number): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const events = d.stats.irqEvents;
    const ack = g.status.vblankAck;
    await g.vm.waitFor((s) => s.vblankAck >= ack + n, WAIT_MS, `${n} vblanks`);
    if (d.stats.irqEvents === events) return;
  }
  throw new Error(`${g.name} never went quiet`);
}

/** The host process's open files, by owner: device files per mdev, dma-bufs per VM memory. */
interface OpenFiles {
  total: number;
  devices: Map<VfioMdev, number>;
  dmabufs: Map<GuestMemory, number>;
  eventfds: number;
  other: number;
}

function openFiles(k: EmulatedKernel): OpenFiles {
  const out: OpenFiles = { total: k.fds.openCount, devices: new Map(), dmabufs: new Map(), eventfds: 0, other: 0 };
  for (let fd = 3, seen = 0; seen < k.fds.openCount && fd < k.fds.limit; fd++) {
    const f = k.fds.get(fd);
    if (f === undefined) continue;
    seen++;
    if (f instanceof VfioDeviceFile) out.devices.set(f.mdev, (out.devices.get(f.mdev) ?? 0) + 1);
    else if (f instanceof DmabufFile) out.dmabufs.set(f.object.memory, (out.dmabufs.get(f.object.memory) ?? 0) + 1);
    else if (f instanceof EventFd) out.eventfds++;
    else out.other++;
  }
  return out;
}

/** The Worker behind a VM, to kill it the way the OS would (no request, no grace period). */
function workerOf(g: GuestVm): Worker {
  const w = (g.vm as unknown as { _worker?: Worker })._worker;
  assert.ok(w, `${g.name} has a worker`);
  return w;
}

// ---- the lab: VMs going away under the display client and viewers -----------------------------

describe('lifecycles in the lab (guest workers, display clients, viewers)', () => {
  it('destroying a VM while its display client and two viewers hold its dma-bufs: statuses, ' +
    'orphans refuse mmap, every file closes, the other VM keeps flipping', async (t) => {
    const lab = await flippingLab();
    t.after(() => lab.stop());
    const [victim, other] = lab.guests as [GuestVm, GuestVm];
    const [vd, od] = lab.displays as [VfioDisplay, VfioDisplay];
    const k = lab.host.kernel;
    const url = viewerUrl(lab);
    const v1 = await viewer(url, victim.name);
    const v2 = await viewer(url, victim.name);
    const vo = await viewer(url, other.name);
    t.after(() => { v1.close(); v2.close(); vo.close(); });
    await scanouts(vd, 2, 'the victim flips on the display client');

    // What the VMM holds of the victim before it goes: its display client's dma-bufs.
    const held = vd.cacheEntries();
    assert.ok(held.length >= 2, `the display client holds the flipping buffers (${held.length})`);
    const before = openFiles(k);
    assert.equal(before.dmabufs.get(victim.vgpu.memory), held.length);
    const exporter = victim.vgpu.mdev.exporter!;
    const shown = vd.console.scanout;
    assert.ok(shown, 'a frame is shown');
    // Viewers know buffers by remote id (unique over the server's channels, not always the dmabuf_id).
    const ch = lab.server!.channelFor(lab.registry.get(victim.name)!);

    let exit: VmExit | undefined;
    victim.vm.onExit((e) => { exit = e; });
    const from1 = v1.messages.length;
    const from2 = v2.messages.length;
    const otherFrom = vo.messages.length;
    const otherFlips = other.status.flips;
    victim.dispose(); // the lab's destroy: guest terminated, VMM fds closed, vGPU removed

    assert.equal(exit?.reason, 'destroyed', 'the VM reports its exit');
    assert.equal(lab.host.vgpu(victim.uuid), undefined, 'the vGPU is gone');
    // The display client says so and keeps the last frame; viewers get a status, not a black.
    const st = vd.console.status;
    assert.equal(st.reason, 'vm-stopped', JSON.stringify(st));
    assert.match(st.message, /guest destroyed/);
    assert.equal(vd.console.scanout, shown, 'the last frame is kept');
    assert.equal(ch.primary?.buffer, shown, 'the channel shows the display\'s last frame');
    const remote = ch.primary!.remoteId;
    for (const [c, from] of [[v1, from1], [v2, from2]] as const) {
      await c.next(isStatus(StatusCode.VM_STOPPED), 'STATUS VM_STOPPED', from, WAIT_MS);
      // The last flip's SCANOUT follows its buffer's bytes, so on a busy machine it may come later.
      // Its state changes only when a message arrives: re-checked on each one (and now).
      await c.next(() => c.scanout === remote, `the viewer on SCANOUT ${remote}`, from, WAIT_MS);
      assert.deepEqual(c.protocolErrors, []);
    }
    assert.equal(v1.scanout, remote, 'the viewer still shows the last frame');

    // Orphans: every dma-buf the display client still holds refuses a new mapping with -ENODEV.
    assert.equal(exporter.orphanCount, held.length, 'each held dma-buf is an orphan now');
    for (const e of held) assert.equal(k.mmap(e.fd, 0, 4096, PROT_READ), -Errno.ENODEV, `orphan fd ${e.fd}`);
    // The old mappings stay readable (guest memory outlives the vGPU) but nothing polls the device.
    assert.ok(shown.mapping.chunks[0]!.byteLength > 0);

    // The other VM kept flipping through all of this, on the VMM side and on the wire.
    await other.vm.waitForFlips(otherFlips + 30, WAIT_MS);
    await scanouts(od, 5, 'the other VM after the destroy');
    await vo.next((m) => m.type === Msg.SCANOUT, 'SCANOUT of the other VM after the destroy', otherFrom, WAIT_MS);
    assert.equal(vo.protocolErrors.length, 0);

    // A viewer of the dead VM moves to the other one.
    const moveFrom = v1.messages.length;
    v1.attach(other.name);
    await v1.next((m) => m.type === Msg.SCANOUT, 'SCANOUT after re-ATTACH', moveFrom, WAIT_MS);
    assert.deepEqual(afterDetach(v1), []);

    // The display client touched the closed device fd no more: its status is still the one it set.
    assert.equal(vd.console.status.reason, st.reason);

    // Closing the display client frees the orphans: nothing of the victim is left open.
    vd.dispose();
    assert.equal(exporter.orphanCount, 0, 'final closes freed every orphan');
    assert.equal(exporter.listedCount, 0);
    const after = openFiles(k);
    assert.equal(after.dmabufs.get(victim.vgpu.memory), undefined, 'no dma-buf of the victim is open');
    assert.equal(after.devices.get(victim.vgpu.mdev), undefined, 'no device file of the victim is open');
    assert.equal(victim.vgpu.mdev.openFiles, 0);
    // What is left is exactly the other VM's: its device fd, its display's dma-bufs and eventfd.
    assert.equal(after.devices.get(other.vgpu.mdev), 1);
    assert.equal(after.dmabufs.get(other.vgpu.memory), od.cacheEntries().length);
    assert.equal(after.eventfds, 1, 'one display IRQ eventfd: the other display\'s');
    assert.equal(after.other, 0);
    assert.equal(after.total, 1 + od.cacheEntries().length + 1);
    assert.equal(k.oopses, 0, String(k.lastOops));
    // The viewer still watching the dead VM drops the buffers it does not show, keeps its frame.
    // Its buffers change only when a message arrives: re-checked on each one (and now).
    await v2.next(() => [...v2.buffers.keys()].every((id) => id === v2.scanout || id === v2.cursor?.id),
      'the viewer released every buffer it does not show', 0, WAIT_MS);
    assert.equal(v2.scanout, remote);
    assert.deepEqual(v2.protocolErrors, [], 'disposing the display under a viewer breaks no protocol rule');
  });

  it('removing a running VM\'s vGPU (mdev remove) under a timer-policy display client and a viewer: ' +
    'device error -ENODEV, orphans refuse mmap, the other VM keeps flipping', async (t) => {
    // The timer policy is QEMU's and the only one real kernels allow (no display IRQ): it notices
    // the removal on its next tick. The guest keeps running: only its vGPU went away.
    const host = new EmulatedHost();
    const victim = GuestVm.create({ host, kind: 'bochs', name: 'victim', monitor: { width: 640, height: 480 } });
    const other = GuestVm.create({ host, kind: 'gvt', name: 'other', monitor: { width: 640, height: 480 } });
    const displays: VfioDisplay[] = [];
    t.after(() => { for (const d of displays) d.dispose(); victim.dispose(); other.dispose(); });
    for (const g of [victim, other]) {
      await g.boot();
      g.startVblank(16);
      await g.waitForScreen(PROMPT.trim(), WAIT_MS);
      g.vm.typeText('flip-demo\n');
      await g.vm.waitFor((st) => st.animating && st.activeVt === 7, WAIT_MS, 'flip-demo running');
      const d = g.takeDisplay(); // the VM's one display client: timer policy, 16 ms, real time
      displays.push(d);
      d.start();
    }
    const [vd, od] = displays as [VfioDisplay, VfioDisplay];
    const vms = new VmRegistry([victim, other].map((g, i) => ({ name: g.name, kind: g.kind, display: displays[i]! })));
    const server = await LabServer.start({ vms, port: 0, statsIntervalMs: 0, heartbeatMs: 0, assets: new Map() });
    t.after(() => server.close());
    const cv = await viewer(`ws://127.0.0.1:${server.port}/ws`, 'victim');
    const co = await viewer(`ws://127.0.0.1:${server.port}/ws`, 'other');
    t.after(() => { cv.close(); co.close(); });
    await scanouts(vd, 2, 'the victim pans between its buffers');
    const held = vd.cacheEntries();
    const shown = vd.console.scanout!;
    const exporter = victim.vgpu.mdev.exporter!;

    const from = cv.messages.length;
    const coFrom = co.messages.length;
    const otherFlips = other.status.flips;
    assert.equal(host.destroyVgpu(victim.uuid), true);
    const st = await statusWhere(vd, (s) => s.reason === 'device-error', 'device-error');
    assert.equal(st.errno, Errno.ENODEV, st.message);
    assert.equal(vd.console.scanout, shown, 'the last frame is kept');
    await cv.next(isStatus(StatusCode.DEVICE_ERROR), 'STATUS DEVICE_ERROR', from, WAIT_MS);
    // The viewer knows the frame by its remote id (unique over the server's channels).
    const ch = server.channelFor(vms.get('victim')!);
    assert.equal(ch.primary?.buffer, shown);
    assert.equal(cv.scanout, ch.primary!.remoteId);
    assert.equal(exporter.orphanCount, held.length);
    for (const e of held) assert.equal(host.kernel.mmap(e.fd, 0, 4096, PROT_READ), -Errno.ENODEV);
    assert.equal(victim.vm.running, true, 'the guest itself runs on, unaware');

    await other.vm.waitForFlips(otherFlips + 30, WAIT_MS);
    await scanouts(od, 5, 'the other VM after the removal');
    await co.next((m) => m.type === Msg.SCANOUT, 'SCANOUT of the other VM after the removal', coFrom, WAIT_MS);
    assert.equal(od.console.status.reason, 'ok');

    vd.dispose();
    victim.dispose();
    assert.equal(exporter.orphanCount, 0);
    const after = openFiles(host.kernel);
    assert.equal(after.dmabufs.get(victim.vgpu.memory), undefined);
    assert.equal(after.devices.get(victim.vgpu.mdev), undefined);
    assert.equal(after.total, 1 + od.cacheEntries().length, 'left: the other VM\'s device fd and dma-bufs');
    assert.equal(host.kernel.oopses, 0, String(host.kernel.lastOops));
    assert.deepEqual([...cv.protocolErrors, ...co.protocolErrors], []);
  });

  it('killing a guest worker mid-flip: the VM reports its exit, its display keeps the last frame ' +
    'with a status, the other VM keeps flipping', async (t) => {
    const lab = await flippingLab();
    t.after(() => lab.stop());
    const [victim, other] = lab.guests as [GuestVm, GuestVm];
    const [vd, od] = lab.displays as [VfioDisplay, VfioDisplay];
    const url = viewerUrl(lab);
    const cv = await viewer(url, victim.name);
    const co = await viewer(url, other.name);
    t.after(() => { cv.close(); co.close(); });
    const flips0 = victim.status.flips;
    await victim.vm.waitForFlips(flips0 + 3, WAIT_MS);
    await scanouts(vd, 1, 'the victim flips');

    const exited = new Promise<VmExit>((resolve) => victim.vm.onExit(resolve));
    const from = cv.messages.length;
    const code = await workerOf(victim).terminate(); // killed mid-session: vblanks keep coming
    const exit = await exited;
    assert.equal(exit.reason, 'exited', JSON.stringify(exit));
    assert.match(exit.message ?? '', new RegExp(`code ${code}`));
    assert.equal(victim.vm.running, false);

    const st = await statusWhere(vd, (s) => s.reason !== 'ok', 'a failure status');
    assert.equal(st.reason, 'vm-stopped', JSON.stringify(st));
    const last = vd.console.scanout;
    assert.ok(last, 'the last frame is kept');
    await cv.next(isStatus(StatusCode.VM_STOPPED), 'STATUS VM_STOPPED', from, WAIT_MS);
    // The viewer knows buffers by remote id (unique over the server's channels, so not always the
    // dmabuf_id). The mirror sends the last flip's SCANOUT once that buffer's bytes are through,
    // so on a busy machine the STATUS may come first: wait for the viewer to converge on it.
    const ch = lab.server!.channelFor(lab.registry.get(victim.name)!);
    assert.equal(ch.primary?.buffer, last, 'the channel shows the display\'s last frame');
    const remote = ch.primary!.remoteId;
    await cv.next(() => cv.scanout === remote, `the viewer on SCANOUT ${remote}`, from, WAIT_MS);
    assert.equal(cv.scanout, remote, 'the viewer keeps the last frame');
    assert.ok(cv.buffers.has(remote));

    // Nothing polls the dead VM's device any more, while the other VM flips on.
    const queries = victim.vgpu.mdev.stats.queries;
    const otherFlips = other.status.flips;
    const coFrom = co.messages.length;
    await other.vm.waitForFlips(otherFlips + 30, WAIT_MS);
    await scanouts(od, 5, 'the other VM after the kill');
    await co.next((m) => m.type === Msg.SCANOUT, 'SCANOUT of the other VM', coFrom, WAIT_MS);
    assert.equal(victim.vgpu.mdev.stats.queries, queries, 'the stopped VM\'s display no longer queries');
    assert.equal(vd.console.scanout, last);
    assert.equal(vd.console.status.reason, 'vm-stopped', 'the status stays');
    assert.equal(lab.host.kernel.oopses, 0);
    assert.deepEqual([...cv.protocolErrors, ...co.protocolErrors], []);
  });

  it('EMFILE during GET: the display reports it, leaks nothing, and recovers once fds are free', async (t) => {
    const lab = await Lab.start({
      vms: ['gvt', 'gvt'], refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0, log: () => {},
    });
    t.after(() => lab.stop());
    const [, g] = lab.guests as [GuestVm, GuestVm]; // the second VM idles on fbcon
    const d = lab.displays[1]!;
    const k = lab.host.kernel;
    const c = await viewer(viewerUrl(lab), g.name);
    t.after(() => c.close());
    const oldFrame = d.console.scanout!;
    const { width } = oldFrame;
    const limit = k.fds.limit;
    const files = openFiles(k);
    const stats0 = d.stats;
    // A full fd table: the next fd anybody asks for is refused (3 slots are stdio's).
    k.fds.limit = files.total + 3;
    t.after(() => { k.fds.limit = limit; });

    const from = c.messages.length;
    assert.equal(g.plug({ width: 1024, height: 768 }), 0, 'a new monitor: the guest sets a new mode');
    // Wait until the guest settled in its new mode and the display failed on exactly that plane:
    // from then on the idle fbcon sends no device event that could trigger another attempt.
    await g.vm.waitFor((s) => s.width === 1024, WAIT_MS, 'the guest in its new mode');
    const settled = (s: DisplayStatus): boolean => {
      const id = g.query().info.dmabufId;
      return s.errno === Errno.EMFILE && d.planeInfo(PlaneType.PRIMARY).dmabufId === id &&
        s.message.includes(`GET_GFX_DMABUF(${id})`);
    };
    const st = await statusWhere(d, settled, 'EMFILE on the new plane');
    assert.equal(st.reason, 'device-error');
    await quiet(g, d, 30);
    assert.ok(settled(d.console.status), JSON.stringify(d.console.status));
    assert.equal(d.console.scanout, oldFrame, 'the last frame stays up');
    await c.next(isStatus(StatusCode.DEVICE_ERROR), 'STATUS device error', from, WAIT_MS);
    // Nothing leaked: the table is exactly as full as before, and no GET half-happened (B7).
    const during = openFiles(k);
    assert.equal(during.total, files.total);
    assert.equal(d.stats.fdsOpened - d.stats.fdsClosed, stats0.fdsOpened - stats0.fdsClosed);
    assert.ok(d.stats.gets > stats0.gets);

    // Free the table: the display must come back by itself (the guest is idle: no more events).
    const okFrom = c.messages.length;
    k.fds.limit = limit;
    const ok = await statusWhere(d, (s) => s.reason === 'ok', 'ok again');
    assert.equal(ok.errno, 0);
    assert.equal(d.console.scanout!.width, 1024);
    assert.notEqual(width, 1024);
    await c.next(isStatus(StatusCode.OK), 'STATUS OK', okFrom, WAIT_MS);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT of the new mode', okFrom, WAIT_MS);
    assert.equal(c.buffers.get(c.scanout!)!.width, 1024);
    const s = d.stats;
    assert.equal(s.fdsOpened - s.fdsClosed, s.cacheEntries, 'one fd per cached buffer, no more');
    assert.equal(k.oopses, 0);
    assert.deepEqual(c.protocolErrors, []);
  });
});

// ---- the server: a VM removed under its viewers ---------------------------------------------

describe('lifecycles on the server', () => {
  it('a viewer of a removed VM gets STATUS VM_STOPPED, stays connected and can ATTACH to another', async (t) => {
    const a = gvtVm('vm-a');
    const b = gvtVm('vm-b');
    const [a0] = doubleBuffered(a, 128, 32);
    const [b0, b1] = doubleBuffered(b, 128, 32);
    a.fill(a0, 0x11);
    b.fill(b0, 0x22);
    b.fill(b1, 0x33);
    a.refresh();
    b.refresh();
    const vms = new VmRegistry([a, b]);
    const s = await LabServer.start({ vms, port: 0, statsIntervalMs: 0, heartbeatMs: 0, assets: new Map() });
    t.after(async () => { await s.close(); a.dispose(); b.dispose(); });
    const c = await viewer(`ws://127.0.0.1:${s.port}/ws`, 'vm-a');
    t.after(() => c.close());
    assert.equal(s.stats.channels, 1);

    const from = c.messages.length;
    vms.remove('vm-a');
    await c.next(isStatus(StatusCode.VM_STOPPED), 'STATUS VM_STOPPED', from);
    await c.next((m) => m.type === Msg.BUFFER_RELEASE, 'BUFFER_RELEASE', from);
    await c.next(() => c.buffers.size === 0, 'every buffer of vm-a released', 0, WAIT_MS);
    assert.equal(s.stats.channels, 0, 'the removed VM\'s channel is gone');
    c.attach('vm-a');
    await c.next((m) => m.type === Msg.ERROR && m.code === ErrorCode.UNKNOWN_VM, 'ERROR unknown VM', from);

    const attachFrom = c.messages.length;
    c.attach('vm-b');
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT of vm-b', attachFrom);
    assert.deepEqual([...c.buffers.get(c.scanout!)!.bytes.subarray(0, 4)], [0x22, 0x22, 0x22, 0x22]);
    const flipFrom = c.messages.length;
    flip(b, b1);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT after a flip on vm-b', flipFrom);
    assert.equal(c.buffers.get(c.scanout!)!.bytes[0], 0x33);
    assert.equal(count(c, Msg.ERROR, attachFrom), 0);
    assert.deepEqual(afterDetach(c), []);
    assert.equal(s.stats.clients, 1);
    assert.equal(s.stats.channels, 1);
  });
});

// ---- thousands of cycles, in a child process with --expose-gc ---------------------------------

interface SoakReport {
  vgpu: {
    cycles: number; gets: number; orphansRefused: number; ms: number; vgpusLeft: number; fdsOpen: number;
    oopses: number; mdevsAlive: number; memoriesAlive: number; heapStart: number; heapEnd: number;
    bytesPerCycle: number;
  };
  vms: {
    cycles: number; ms: number; vgpusLeft: number; fdsOpen: number; oopses: number; objectsAlive: number;
    threadsLeft: number | null; heapStart: number; heapEnd: number; bytesPerCycle: number;
    arrayBufferBytesPerCycle: number;
  };
  failures: string[];
}

function runSoak(vgpuCycles: number, vmCycles: number): Promise<SoakReport> {
  const script = fileURLToPath(new URL('./fixtures/LifecycleSoak.ts', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, String(vgpuCycles), String(vmCycles)], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`soak exited ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as SoakReport);
      } catch {
        reject(new Error(`soak printed no report:\n${out}\n${err}`));
      }
    });
  });
}

describe('create/destroy cycles', () => {
  it('2,000 vGPU create → open → QUERY/GET/mmap → close → destroy cycles and 20 guest VM boots: ' +
    'no object left, flat heap', async (t) => {
    const r = await runSoak(2000, 20);
    assert.deepEqual(r.failures, []);
    const v = r.vgpu;
    assert.equal(v.cycles, 2000);
    assert.ok(v.gets >= 1300, `dma-bufs exported: ${v.gets}`);
    assert.ok(v.orphansRefused >= 300, `orphans refused: ${v.orphansRefused}`);
    assert.deepEqual([v.vgpusLeft, v.fdsOpen, v.oopses, v.mdevsAlive, v.memoriesAlive], [0, 0, 0, 0, 0]);
    assert.ok(v.bytesPerCycle < 1024, `vGPU cycles: heap slope ${v.bytesPerCycle.toFixed(0)} B/cycle (bound 1 KiB)`);
    const m = r.vms;
    assert.equal(m.cycles, 20);
    assert.deepEqual([m.vgpusLeft, m.fdsOpen, m.oopses, m.objectsAlive], [0, 0, 0, 0]);
    if (m.threadsLeft !== null) assert.equal(m.threadsLeft, 0, 'every guest worker thread is gone');
    // A VM's guest memory alone is ≥ 8 MiB of SharedArrayBuffer: one leaked VM would show here.
    assert.ok(m.arrayBufferBytesPerCycle < 256 * 1024,
      `VM cycles: ArrayBuffer slope ${m.arrayBufferBytesPerCycle.toFixed(0)} B/cycle (bound 256 KiB)`);
    assert.ok(m.bytesPerCycle < 32 * 1024, `VM cycles: heap slope ${m.bytesPerCycle.toFixed(0)} B/cycle (bound 32 KiB)`);
    t.diagnostic(`vGPU: ${v.cycles} cycles in ${v.ms} ms, ${v.gets} dma-bufs, ${v.orphansRefused} orphan ` +
      `mmaps refused; left: 0 vGPUs, 0 fds, 0 mdevs, 0 memories; heap ${v.heapStart} → ${v.heapEnd} B, ` +
      `slope ${v.bytesPerCycle.toFixed(1)} B/cycle`);
    t.diagnostic(`VMs: ${m.cycles} boots in ${m.ms} ms; left: 0 vGPUs, 0 fds, 0 VM objects, ` +
      `${m.threadsLeft ?? 'n/a'} threads; heap ${m.heapStart} → ${m.heapEnd} B, slope ` +
      `${m.bytesPerCycle.toFixed(0)} B/cycle; ArrayBuffers slope ${m.arrayBufferBytesPerCycle.toFixed(0)} B/cycle`);
  });
});
