import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ClientOptions } from 'ws';
import {
  Msg, StatusCode, encodeAck, encodeAttach, encodeKey, encodePointerAbs, encodeResize,
  type ServerMessage,
} from '../protocol/RemoteProtocol.ts';
import { readDirectScanout } from '../protocol/InspectorData.ts';
import { CloseCode, ErrorCode } from './ClientSession.ts';
import { LabServer, type LabServerOptions } from './LabServer.ts';
import { MAX_CHUNK_BYTES, NO_BUFFER } from './VmChannel.ts';
import { VmRegistry, type LabVm } from './VmRegistry.ts';
import { bochsMode, bochsPan } from '../testkit/VfioFixtures.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { DISPI, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import { doubleBuffered, emulatedVm, flip, gvtVm, type TestVm } from '../testkit/node/LabRig.ts';
import { TestClient } from '../testkit/node/TestClient.ts';

const ASSETS = new Map([
  ['/', { body: new TextEncoder().encode('<!doctype html><title>viewer</title>'), type: 'text/html; charset=utf-8' }],
  ['/viewer.js', { body: new TextEncoder().encode('console.log(1)'), type: 'text/javascript; charset=utf-8' }],
]);

const servers: LabServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(vms: LabVm[], opts: Partial<LabServerOptions> = {}): Promise<LabServer> {
  const s = await LabServer.start({
    vms: new VmRegistry(vms), port: 0, assets: ASSETS, statsIntervalMs: 0, heartbeatMs: 0, ...opts,
  });
  servers.push(s);
  return s;
}

function wsUrl(s: LabServer, query = ''): string {
  return `ws://127.0.0.1:${s.port}/ws${query}`;
}

async function attached(s: LabServer, vm: string, query = ''): Promise<TestClient> {
  const c = await TestClient.open(wsUrl(s, query));
  c.attach(vm);
  await c.next((m) => m.type === Msg.SCANOUT, 'first SCANOUT');
  return c;
}

/** Let microtasks (the channel's flush) and pending I/O callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function httpGet(s: LabServer, path: string, headers: Record<string, string> = {}, method = 'GET'):
  Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The HTTP status of a refused WebSocket upgrade. */
function upgradeStatus(url: string, options: ClientOptions = {}): Promise<number> {
  const c = TestClient.connect(url, options);
  return new Promise((resolve, reject) => {
    c.ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    c.ws.on('open', () => reject(new Error('upgrade was accepted')));
  });
}

function isError(code: number): (m: ServerMessage) => boolean {
  return (m) => m.type === Msg.ERROR && m.code === code;
}

describe('LabServer: remote display', () => {
  it('greets with HELLO listing the VMs, then mirrors the shown buffer byte for byte', async () => {
    const vm = gvtVm('vm1');
    const [a] = doubleBuffered(vm, 256, 64);
    vm.guest.fillRect(a, 0, 10, 256, 3, 0xff112233, false);
    vm.refresh();
    const s = await serve([vm]);
    const c = await TestClient.open(wsUrl(s));
    const hello = c.messages[0]!;
    assert.equal(hello.type, Msg.HELLO);
    const info = (hello as { info: { vms: Array<{ name: string; kind: string; width: number; height: number }> } }).info;
    assert.deepEqual(info.vms.map((v) => [v.name, v.kind, v.width, v.height]), [['vm1', 'gvt', 256, 64]]);
    c.attach('vm1');
    const scan = await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT');
    const types = c.messages.map((m) => m.type);
    const create = types.indexOf(Msg.BUFFER_CREATE);
    assert.ok(create >= 0 && create < types.indexOf(Msg.BUFFER_DATA) && types.indexOf(Msg.BUFFER_DATA) < types.indexOf(Msg.SCANOUT),
      'CREATE, then DATA, then SCANOUT');
    const remote = c.buffers.get((scan as { id: number }).id)!;
    assert.equal(remote.stride, a.stride);
    assert.deepEqual(remote.bytes, vm.bytes(a), 'the client holds the guest bytes exactly');
    // Zero blocks are not sent: the client's new buffer is zero-filled already.
    const data = c.messages.filter((m) => m.type === Msg.BUFFER_DATA).reduce((n, m) => n + (m as { bytes: Uint8Array }).bytes.byteLength, 0);
    assert.ok(data < a.size, `sent ${data} of ${a.size} bytes`);
    assert.deepEqual(c.protocolErrors, []);
    c.close();
  });

  it('a flip between two buffers the client holds costs one 5-byte SCANOUT', async () => {
    const vm = gvtVm('flip');
    const [a, b] = doubleBuffered(vm, 1024, 64);
    vm.fill(a, 0x11);
    vm.fill(b, 0x22);
    vm.refresh();
    const s = await serve([vm]);
    const c = await attached(s, 'flip');
    const idA = c.scanout!;
    flip(vm, b);
    const sb = await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(b)');
    const idB = (sb as { id: number }).id;
    assert.notEqual(idB, idA);
    assert.deepEqual(c.buffers.get(idB)!.bytes, vm.bytes(b));
    for (let i = 0; i < 10; i++) {
      const from = c.messages.length;
      const before = s.stats.bytesSent;
      const target = i % 2 === 0 ? a : b;
      flip(vm, target);
      await settle();
      const m = await c.next((x) => x.type === Msg.SCANOUT, 'SCANOUT', from);
      assert.equal((m as { id: number }).id, i % 2 === 0 ? idA : idB);
      const cost = s.stats.bytesSent - before;
      assert.ok(cost < 100, `flip ${i} cost ${cost} bytes`);
      assert.equal(cost, 5);
      assert.equal(c.bytesSince(from), 5);
    }
    assert.deepEqual(c.protocolErrors, []);
    c.close();
  });

  it('a flip to a buffer the guest redrew sends only the changed rows first', async () => {
    const vm = gvtVm('redraw');
    const [a, b] = doubleBuffered(vm, 1024, 64);
    vm.fill(a, 0x11);
    vm.fill(b, 0x22);
    vm.refresh();
    const s = await serve([vm]);
    const c = await attached(s, 'redraw');
    flip(vm, b);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(b)');
    flip(vm, a);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(a)');
    // The guest draws rows 5..6 of the back buffer b, then flips to it.
    vm.guest.fillRect(b, 0, 5, 1024, 2, 0xff445566);
    const from = c.messages.length;
    flip(vm, b);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(b)', from);
    const got = c.messages.slice(from).map((m) => m.type === Msg.BUFFER_DATA ? [m.offset, m.bytes.byteLength] : m.type);
    assert.deepEqual(got, [[5 * 4096, 2 * 4096], Msg.SCANOUT]);
    assert.deepEqual(c.buffers.get(c.scanout!)!.bytes, vm.bytes(b));
    c.close();
  });

  it('damage sends only the damaged rows, then one FRAME naming them', async () => {
    const vm = gvtVm('damage');
    const [a] = doubleBuffered(vm, 1024, 64);
    const s = await serve([vm]);
    const c = await attached(s, 'damage');
    const from = c.messages.length;
    vm.guest.fillRect(a, 100, 20, 50, 3, 0xffabcdef);
    vm.refresh(); // the timer policy reports the whole frame: hashing finds the three rows
    const frame = await c.next((m) => m.type === Msg.FRAME, 'FRAME', from);
    const data = c.messages.slice(from).filter((m) => m.type === Msg.BUFFER_DATA);
    assert.deepEqual(data.map((m) => [m.offset, m.bytes.byteLength]), [[20 * 4096, 3 * 4096]]);
    assert.deepEqual((frame as { rects: unknown }).rects, [{ x: 0, y: 20, width: 1024, height: 3 }]);
    assert.deepEqual(c.buffers.get(c.scanout!)!.bytes, vm.bytes(a));
    // Nothing changed: a refresh sends nothing.
    const quiet = s.stats.bytesSent;
    vm.refresh();
    await settle();
    assert.equal(s.stats.bytesSent, quiet);
    c.close();
  });

  it('sends cursor shape and moves as separate small messages', async () => {
    const vm = gvtVm('cursor');
    doubleBuffered(vm, 256, 64);
    const cur = vm.guest.alloc({ width: 64, height: 64 });
    vm.guest.fillRect(cur, 0, 0, 8, 8, 0xffffffff, false);
    const s = await serve([vm]);
    const c = await attached(s, 'cursor');
    vm.guest.setHotspot(3, 4);
    vm.guest.showCursor(cur, 10, 20);
    vm.guest.vblank();
    vm.refresh();
    const def = await c.next((m) => m.type === Msg.CURSOR_DEFINE, 'CURSOR_DEFINE');
    assert.equal((def as { hotX: number }).hotX, 3);
    assert.equal((def as { hotY: number }).hotY, 4);
    assert.deepEqual(c.buffers.get(c.cursor!.id)!.bytes, vm.bytes(cur), 'cursor bytes arrive before the define');
    await c.next((m) => m.type === Msg.CURSOR_MOVE && m.x === 10 && m.y === 20, 'CURSOR_MOVE(10,20)', 0);
    let from = c.messages.length;
    vm.guest.moveCursor(-5, 30);
    vm.guest.vblank();
    vm.refresh();
    await c.next((m) => m.type === Msg.CURSOR_MOVE, 'CURSOR_MOVE', from);
    await settle();
    assert.deepEqual(c.messages.slice(from).map((m) => m.type), [Msg.CURSOR_MOVE]);
    assert.equal(c.bytesSince(from), 9);
    assert.deepEqual(c.messages.at(-1), { type: Msg.CURSOR_MOVE, x: -5, y: 30 });
    // The guest redraws the cursor image in place: new bytes, then a define again.
    from = c.messages.length;
    vm.guest.fillRect(cur, 0, 0, 8, 8, 0xff00ff00, false);
    vm.refresh();
    await c.next((m) => m.type === Msg.CURSOR_DEFINE, 'CURSOR_DEFINE after redraw', from);
    assert.deepEqual(c.buffers.get(c.cursor!.id)!.bytes, vm.bytes(cur));
    from = c.messages.length;
    vm.guest.hideCursor();
    vm.guest.vblank();
    vm.refresh();
    const hide = await c.next((m) => m.type === Msg.CURSOR_DEFINE, 'CURSOR_DEFINE(none)', from);
    assert.equal((hide as { id: number }).id, NO_BUFFER, 'id 0: no cursor');
    assert.deepEqual(c.protocolErrors, []);
    c.close();
  });

  it('reports status changes and a stopped VM', async () => {
    const vm = gvtVm('status');
    doubleBuffered(vm, 256, 64);
    const s = await serve([vm]);
    const c = await attached(s, 'status');
    const from = c.messages.length;
    vm.guest.disablePrimary();
    vm.refresh();
    await c.next((m) => m.type === Msg.STATUS && m.code === StatusCode.PLANE_DISABLED, 'STATUS plane disabled', from);
    s.vms.remove('status');
    await c.next((m) => m.type === Msg.STATUS && m.code === StatusCode.VM_STOPPED, 'STATUS VM stopped', from);
    await c.next((m) => m.type === Msg.BUFFER_RELEASE, 'BUFFER_RELEASE', from);
    assert.equal(s.stats.channels, 0);
    c.send(encodeKey(30, true));
    await c.next(isError(ErrorCode.NOT_ATTACHED), 'ERROR not attached');
    c.close();
  });

  it('sends STATS periodically and EVENTs only to clients that ask', async () => {
    const vm = gvtVm('stats');
    const [, b] = doubleBuffered(vm, 256, 64);
    const s = await serve([vm], { statsIntervalMs: 20 });
    const plain = await attached(s, 'stats');
    const inspector = await attached(s, 'stats', '?events=1');
    const st = await inspector.next((m) => m.type === Msg.STATS, 'STATS');
    const stats = (st as { stats: { vm: string; display: { mode: string }; cache: unknown[]; client: { bytesSent: number } } }).stats;
    assert.equal(stats.vm, 'stats');
    assert.equal(stats.display.mode, 'dmabuf');
    assert.ok(Array.isArray(stats.cache));
    assert.ok(stats.client.bytesSent > 0);
    const from = inspector.messages.length;
    flip(vm, b);
    const ev = await inspector.next((m) => m.type === Msg.EVENT && (m.event as { kind: string }).kind === 'scanout', 'EVENT scanout', from);
    assert.equal((ev as { event: { vm: string } }).event.vm, 'stats');
    await plain.next((m) => m.type === Msg.SCANOUT, 'SCANOUT', 0);
    assert.ok(!plain.messages.some((m) => m.type === Msg.EVENT));
    plain.close();
    inspector.close();
  });

  it('says in STATS and in each scanout EVENT whether the host could scan the buffer out directly', async () => {
    const vm = gvtVm('direct');
    const [, b] = doubleBuffered(vm, 256, 64);
    const s = await serve([vm], { statsIntervalMs: 20 });
    const c = await attached(s, 'direct', '?events=1');
    const quiet = await attached(s, 'direct', '?stats=0');
    const st = await c.next((m) => m.type === Msg.STATS, 'STATS');
    assert.ok(st.type === Msg.STATS);
    const linear = readDirectScanout(st.stats);
    assert.deepEqual([linear?.direct, linear?.host, linear?.plane], [true, 'i915-like', 31]);
    assert.match(linear!.sentence, /^direct scanout: yes, .*256x64 XRGB8888 LINEAR/);
    const from = c.messages.length;
    flip(vm, b);
    const ev = await c.next((m) => m.type === Msg.EVENT && (m.event as { kind: string }).kind === 'scanout', 'EVENT scanout', from);
    assert.ok(ev.type === Msg.EVENT);
    assert.equal(readDirectScanout(ev.event)?.direct, true);
    // Two more STATS ticks reached the first client; the one that asked for none got none.
    const later = await c.next((m) => m.type === Msg.STATS, 'STATS', from);
    await c.next((m) => m.type === Msg.STATS, 'STATS', c.messages.indexOf(later) + 1);
    assert.ok(!quiet.messages.some((m) => m.type === Msg.STATS), 'stats=0: no STATS');
    assert.equal(s.clientStats().length, 2);
    c.close();
    quiet.close();

    // A host with one linear XRGB8888 plane cannot take a Y-tiled buffer, and says so.
    const yvm = gvtVm('ytiled');
    const y = yvm.guest.alloc({ width: 256, height: 64, tiling: 'y' });
    yvm.guest.showPrimary(y);
    yvm.guest.vblank();
    yvm.vfio.start();
    const simple = await serve([yvm], { statsIntervalMs: 20, scanoutHost: 'simple' });
    const yc = await attached(simple, 'ytiled');
    const yst = await yc.next((m) => m.type === Msg.STATS && readDirectScanout(m.stats) !== undefined, 'STATS with a verdict');
    assert.ok(yst.type === Msg.STATS);
    const tiled = readDirectScanout(yst.stats);
    assert.deepEqual([tiled?.direct, tiled?.host, tiled?.code], [false, 'simple', 'modifier']);
    assert.match(tiled!.sentence, /^direct scanout: no, modifier I915_Y_TILED not supported by plane 31 \(primary\)/);
    yc.close();
  });
});

describe('LabServer: other devices', () => {
  it('bochs: waits for a plane, then a pan back to a known buffer is one SCANOUT', async () => {
    const { vm, vgpu, vfio } = emulatedVm('bochs', 'bochs');
    const s = await serve([vm]);
    const c = await TestClient.open(wsUrl(s));
    c.attach('bochs');
    await c.next((m) => m.type === Msg.STATUS && m.code === StatusCode.NO_PLANE_YET, 'STATUS no plane yet');
    const dev = vgpu.device as BochsDevice;
    // 320x256: a page-aligned frame, so a pan by its height is a valid dma-buf start (mbochs).
    bochsMode(dev, 320, 256, { virtWidth: 320 });
    dev.mmioWrite(dispiOffset(DISPI.VIRT_HEIGHT), 2, 512);
    vgpu.memory.bytes.fill(0x5a, vgpu.layout.fbFirstPage! * 4096, vgpu.layout.fbFirstPage! * 4096 + 320 * 4 * 512);
    vfio.start();
    const first = await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT');
    await c.next((m) => m.type === Msg.STATUS && m.code === StatusCode.OK, 'STATUS ok', 0);
    bochsPan(dev, 256);
    vfio.refresh();
    const second = await c.next((m) => m.type === Msg.SCANOUT && m.id !== (first as { id: number }).id, 'SCANOUT after pan');
    const from = c.messages.length;
    bochsPan(dev, 0);
    vfio.refresh();
    const back = await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT back', from);
    assert.equal((back as { id: number }).id, (first as { id: number }).id);
    assert.notEqual((second as { id: number }).id, (first as { id: number }).id);
    await settle();
    assert.equal(c.bytesSince(from), 5);
    assert.deepEqual(c.protocolErrors, []);
    c.close();
    vfio.dispose();
  });

  it('region (mdpy): the staging copy is mirrored, a written pixel is one block and a FRAME', async () => {
    const { vm, vgpu, vfio } = emulatedVm('mdpy', 'mdpy-vga');
    vfio.start();
    const s = await serve([vm]);
    const c = await attached(s, 'mdpy');
    const from = c.messages.length;
    vgpu.memory.bytes[vgpu.layout.fbFirstPage! * 4096 + 2560 * 10 + 4] = 0xab;
    vfio.refresh();
    const frame = await c.next((m) => m.type === Msg.FRAME, 'FRAME', from);
    const data = c.messages.slice(from).filter((m) => m.type === Msg.BUFFER_DATA);
    assert.deepEqual(data.map((m) => [m.offset, m.bytes.byteLength]), [[4096 * 6, 4096]]);
    assert.deepEqual((frame as { rects: unknown }).rects, [{ x: 0, y: 9, width: 640, height: 3 }]);
    assert.equal(c.buffers.get(c.scanout!)!.bytes[2560 * 10 + 4], 0xab);
    c.close();
    vfio.dispose();
  });
});

describe('LabServer: input and bad messages', () => {
  it('routes input only to the attached VM and releases held keys on disconnect', async () => {
    const vm1 = gvtVm('in1');
    const vm2 = gvtVm('in2');
    doubleBuffered(vm1, 128, 64);
    doubleBuffered(vm2, 128, 64);
    const s = await serve([vm1, vm2]);
    const c1 = await attached(s, 'in1');
    const c2 = await attached(s, 'in2');
    c1.send(encodeKey(29, true));
    c1.send(encodeKey(30, true));
    c1.send(encodeKey(30, false));
    c1.send(encodePointerAbs(10, 20, 1));
    c2.send(encodeResize(800, 600));
    c2.send(encodeKey(57, true));
    c2.send(encodeKey(57, false));
    // Round trips: an ERROR answer proves earlier messages were handled.
    c1.send(encodeAttach('nope'));
    c2.send(encodeAttach('nope'));
    await c1.next(isError(ErrorCode.UNKNOWN_VM), 'ERROR');
    await c2.next(isError(ErrorCode.UNKNOWN_VM), 'ERROR');
    assert.deepEqual(vm1.keys, [[29, true], [30, true], [30, false]]);
    assert.deepEqual(vm1.pointers, [{ kind: 'abs', x: 10, y: 20, buttons: 1 }]);
    assert.deepEqual(vm1.resizes, []);
    assert.deepEqual(vm2.keys, [[57, true], [57, false]]);
    assert.deepEqual(vm2.resizes, [[800, 600]]);
    assert.deepEqual(vm2.pointers, []);
    c1.close();
    await c1.closed;
    await until(() => s.stats.clients === 1);
    assert.deepEqual(vm1.keys.at(-1), [29, false], 'the held Ctrl went up');
    assert.deepEqual(vm1.pointers.at(-1), { kind: 'abs', x: 10, y: 20, buttons: 0 }, 'the held button went up');
    c2.close();
  });

  it('malformed, oversized and out-of-order messages get an ERROR and change nothing', async () => {
    const vm = gvtVm('bad');
    const [, b] = doubleBuffered(vm, 256, 64);
    const s = await serve([vm]);
    const c = await TestClient.open(wsUrl(s));
    // Out of order: input before ATTACH.
    c.send(encodeKey(30, true));
    await c.next(isError(ErrorCode.NOT_ATTACHED), 'ERROR 409');
    c.send(encodeAck(1));
    await c.next(isError(ErrorCode.NOT_ATTACHED), 'ERROR 409 (ack)');
    assert.deepEqual(vm.keys, []);
    assert.equal(s.stats.attached, 0);
    c.attach('bad');
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT');
    const shown = c.scanout;
    const cases: Array<[Uint8Array | string, ErrorCode]> = [
      [new Uint8Array([0x99, 1, 2]), ErrorCode.BAD_MESSAGE],
      [new Uint8Array([Msg.KEY, 30]), ErrorCode.BAD_MESSAGE],
      [encodeKey(0, true), ErrorCode.BAD_MESSAGE],
      [new Uint8Array(0), ErrorCode.BAD_MESSAGE],
      [new Uint8Array([Msg.SCANOUT, 0, 0, 0, 0]), ErrorCode.BAD_MESSAGE], // a server message
      [encodeAck(99), ErrorCode.BAD_MESSAGE], // a frame never sent
      [new Uint8Array(5000).fill(Msg.KEY), ErrorCode.TOO_LARGE],
      ['{"type":"key"}', ErrorCode.UNSUPPORTED_FRAME],
      [encodeAttach('no-such-vm'), ErrorCode.UNKNOWN_VM],
    ];
    for (const [bytes, code] of cases) {
      const from = c.messages.length;
      c.send(bytes);
      const e = await c.next((m) => m.type === Msg.ERROR, `ERROR ${code}`, from);
      assert.equal((e as { code: number }).code, code, (e as { text: string }).text);
    }
    assert.deepEqual(vm.keys, []);
    assert.equal(c.scanout, shown);
    // Still attached to the same VM, still mirrored: a flip arrives as usual.
    const from = c.messages.length;
    flip(vm, b);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT after errors', from);
    assert.equal(s.stats.attached, 1);
    assert.deepEqual(c.protocolErrors, []);
    c.close();
  });

  it('closes 1009 for a message over 64 KiB and 1008 after too many errors', async () => {
    const vm = gvtVm('abuse');
    doubleBuffered(vm, 128, 64);
    const s = await serve([vm]);
    const big = await TestClient.open(wsUrl(s));
    big.send(new Uint8Array(70000));
    assert.equal((await big.closed).code, CloseCode.TOO_BIG);
    const noisy = await TestClient.open(wsUrl(s));
    for (let i = 0; i < 40; i++) noisy.send(encodeAttach('名前'.repeat(32))); // long UTF-8 error texts
    const closed = await noisy.closed;
    assert.equal(closed.code, CloseCode.POLICY);
    assert.match(closed.reason, /protocol errors/);
    const flood = await attached(s, 'abuse');
    for (let i = 0; i < 2100; i++) flood.send(encodeKey(30, false)); // releases of a key never pressed
    const flooded = await flood.closed;
    assert.equal(flooded.code, CloseCode.POLICY);
    assert.match(flooded.reason, /messages per second/);
    assert.deepEqual(vm.keys, [], 'nothing reached the VM');
    await until(() => s.stats.clients === 0);
  });
});

describe('LabServer: load', () => {
  it('a client that stops reading stays within its queue bound while the guest keeps drawing', async () => {
    const vm = gvtVm('slow', { ramMiB: 24 });
    const [a, b] = doubleBuffered(vm, 1024, 768); // 3 MiB each
    const bound = 1024 * 1024;
    const s = await serve([vm], { maxQueuedBytes: bound });
    const slow = await attached(s, 'slow');
    const fast = await attached(s, 'slow');
    slow.socket.pause();
    let produced = 0;
    let peak = 0;
    let full = 0;
    let shown = a;
    for (let i = 1; i <= 400 && full < 8; i++) {
      const buf = i % 2 === 0 ? a : b;
      shown = buf;
      vm.fill(buf, i & 0xff);
      produced += buf.size;
      flip(vm, buf);
      await settle();
      const q = s.clientStats().find((x) => x['id'] === 1)!['queuedBytes'] as number;
      peak = Math.max(peak, q);
      assert.ok(q <= bound + MAX_CHUNK_BYTES + 64, `queued ${q} bytes > bound`);
      if (q >= bound - MAX_CHUNK_BYTES) full++;
      // The reading client keeps up meanwhile.
      await fast.next((m) => m.type === Msg.SCANOUT || m.type === Msg.FRAME, 'fast client update', fast.messages.length - 1);
    }
    assert.ok(full >= 8, `backpressure never engaged (peak ${peak})`);
    assert.ok(s.stats.queuedPeak <= bound + MAX_CHUNK_BYTES + 64);
    const slowSent = s.clientStats().find((x) => x['id'] === 1)!['bytesSent'] as number;
    assert.ok(slowSent < produced / 2, `coalescing: handed ${slowSent} of ${produced} bytes to the socket`);
    // The guest stops; the reader wakes up and converges to exactly the guest's last frame.
    const last = vm.vfio.console.scanout!;
    const want = vm.bytes(shown);
    const converged = (c: TestClient) => (): boolean => {
      const r = c.buffers.get(c.scanout ?? -1);
      return c.scanout === last.id && r !== undefined && equalBytes(r.bytes, want);
    };
    // The stuck client holds nobody else up.
    if (!converged(fast)()) await fast.next(converged(fast), 'fast client converged', 0, 15000);
    slow.socket.resume();
    await slow.next(converged(slow), 'slow client converged', 0, 15000);
    assert.deepEqual(slow.protocolErrors, []);
    slow.close();
    fast.close();
  });

  it('100 concurrent viewers of one VM all receive a flip', async () => {
    const vm = gvtVm('crowd');
    const [a, b] = doubleBuffered(vm, 256, 32);
    vm.fill(a, 1);
    vm.fill(b, 2);
    vm.refresh();
    const s = await serve([vm]);
    const clients = await Promise.all(Array.from({ length: 100 }, () => attached(s, 'crowd')));
    assert.equal(s.stats.attached, 100);
    assert.equal(s.stats.channels, 1);
    const idA = clients[0]!.scanout;
    let marks = clients.map((c) => c.messages.length);
    flip(vm, b);
    const got = await Promise.all(clients.map((c, i) => c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(b)', marks[i])));
    const ids = new Set(got.map((m) => (m as { id: number }).id));
    assert.equal(ids.size, 1);
    assert.ok(!ids.has(idA!));
    for (const c of clients) assert.deepEqual(c.buffers.get(c.scanout!)!.bytes, vm.bytes(b));
    marks = clients.map((c) => c.messages.length);
    flip(vm, a);
    await Promise.all(clients.map((c, i) => c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(a)', marks[i])));
    await settle();
    for (const [i, c] of clients.entries()) assert.ok(c.bytesSince(marks[i]!) < 100);
    for (const c of clients) c.close();
    await until(() => s.stats.clients === 0);
    assert.equal(s.stats.channels, 0);
  });

  it('a reconnect storm of 200 clients leaves no per-client state behind', async () => {
    const vm = gvtVm('storm');
    doubleBuffered(vm, 128, 32);
    const s = await serve([vm]);
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const c = await TestClient.open(wsUrl(s));
        c.attach('storm');
        c.send(encodeKey(42, true)); // held Shift, never released by the client
        if (i % 2 === 0) await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT');
        if (i % 4 === 1) c.ws.terminate();
        else c.close();
        await c.closed;
      }));
    }
    await until(() => s.stats.clients === 0);
    assert.equal(s.stats.wsAccepted, 200);
    assert.equal(s.stats.channels, 0, 'the VM channel went with its last client');
    const downs = vm.keys.filter(([, d]) => d).length;
    const ups = vm.keys.filter(([, d]) => !d).length;
    assert.equal(downs, ups, 'every held key was released');
    // The server still works.
    const c = await attached(s, 'storm');
    assert.equal(s.stats.clients, 1);
    c.close();
  });
});

describe('LabServer: security', () => {
  it('serves only its in-memory files: path traversal finds nothing', async () => {
    const s = await serve([]);
    const ok = await httpGet(s, '/');
    assert.equal(ok.status, 200);
    assert.match(ok.headers['content-security-policy'] as string, /default-src 'self'/);
    assert.equal(ok.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(ok.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal((await httpGet(s, '/viewer.js')).status, 200);
    for (const path of [
      '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/viewer.js/../../../etc/passwd',
      '//etc/passwd', '/%2e%2e%5c%2e%2e%5cetc%5cpasswd', '/etc/passwd', '/src/server/LabServer.ts', '/viewer.js%00.html',
      '/package.json',
    ]) {
      const r = await httpGet(s, path);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.doesNotMatch(r.body, /root:|import /);
    }
    assert.equal((await httpGet(s, '/', {}, 'POST')).status, 405);
    assert.equal((await httpGet(s, '/', {}, 'HEAD')).status, 200);
  });

  it('refuses cross-origin WebSocket upgrades and foreign Host names', async () => {
    const vm = gvtVm('origin');
    doubleBuffered(vm, 128, 32);
    const s = await serve([vm]);
    assert.equal(await upgradeStatus(wsUrl(s), { origin: 'http://evil.example' }), 403);
    assert.equal(await upgradeStatus(wsUrl(s), { origin: `http://127.0.0.1:${s.port + 1}` }), 403);
    assert.equal(await upgradeStatus(wsUrl(s), { origin: 'null' }), 403);
    // DNS rebinding: the attacker's name resolving to 127.0.0.1, same "origin" as its Host.
    assert.equal(await upgradeStatus(wsUrl(s), { origin: `http://evil.example:${s.port}`, headers: { host: `evil.example:${s.port}` } }), 403);
    assert.equal((await httpGet(s, '/', { host: `evil.example:${s.port}` })).status, 403);
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${s.port}/elsewhere`), 404);
    assert.equal(s.stats.clients, 0);
    const same = await TestClient.open(wsUrl(s), { origin: `http://127.0.0.1:${s.port}` });
    const local = await TestClient.open(`ws://localhost:${s.port}/ws`, { origin: `http://localhost:${s.port}` });
    same.close();
    local.close();
  });

  it('refuses a non-loopback listen address without --token at start', async () => {
    const vms = new VmRegistry();
    for (const listen of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      assert.throws(() => new LabServer({ vms, listen, port: 0 }), /non-loopback .* without --token/);
    }
    assert.throws(() => new LabServer({ vms, listen: '0.0.0.0', token: '', port: 0 }), /must not be empty/);
    for (const listen of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) new LabServer({ vms, listen, port: 0 });
    const open = await serve([], { listen: '0.0.0.0', token: 't0ken' });
    assert.equal((await httpGet(open, '/?token=t0ken')).status, 200);
  });

  it('refuses a wrong token and accepts the right one (query, cookie, bearer)', async () => {
    const vm = gvtVm('tok');
    doubleBuffered(vm, 128, 32);
    const s = await serve([vm], { token: 's3cret' });
    assert.ok(s.url.endsWith('/?token=s3cret'));
    assert.equal((await httpGet(s, '/')).status, 401);
    assert.equal((await httpGet(s, '/?token=wrong')).status, 401);
    assert.equal((await httpGet(s, '/?token=s3cret0')).status, 401);
    const page = await httpGet(s, '/?token=s3cret');
    assert.equal(page.status, 200);
    const cookie = (page.headers['set-cookie'] as string[])[0]!;
    assert.match(cookie, /^vgpu_token=s3cret; .*HttpOnly.*SameSite=Strict/);
    assert.equal((await httpGet(s, '/viewer.js', { cookie: 'vgpu_token=s3cret' })).status, 200);
    assert.equal((await httpGet(s, '/viewer.js', { authorization: 'Bearer s3cret' })).status, 200);
    for (const q of ['', '?token=wrong']) {
      const c = TestClient.connect(wsUrl(s, q));
      const closed = await c.closed;
      assert.equal(closed.code, CloseCode.BAD_TOKEN);
      assert.equal(c.messages.length, 0, 'nothing but the close');
    }
    const byQuery = await TestClient.open(wsUrl(s, '?token=s3cret'));
    const byCookie = await TestClient.open(wsUrl(s), { headers: { cookie: 'vgpu_token=s3cret' } });
    byCookie.attach('tok');
    await byCookie.next((m) => m.type === Msg.SCANOUT, 'SCANOUT');
    byQuery.close();
    byCookie.close();
  });

  it('takes the next free port when the default one is busy', async () => {
    const blocker: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const s = await serve([], { port: busy });
      assert.ok(s.port > busy && s.port <= busy + 20, `got ${s.port}`);
      await assert.rejects(LabServer.start({ vms: new VmRegistry(), port: busy, strictPort: true, assets: ASSETS }), /in use/);
    } finally {
      blocker.close();
    }
  });
});

function equalBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Yield to the event loop until `cond` holds (server-side cleanup after a client's close). */
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await settle();
  }
  throw new Error(`${what} never held`);
}
