import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ClientOptions } from 'ws';
import {
  Msg, StatusCode, encodeAck, encodeAttach, encodeKey, encodePing, encodePointerAbs, encodePresented, encodeResize,
  type ServerMessage,
} from '../protocol/RemoteProtocol.ts';
import { readDirectScanout } from '../protocol/InspectorData.ts';
import { CloseCode, ErrorCode, MESSAGE_RATE } from './ClientSession.ts';
import { LabServer, type LabServerOptions } from './LabServer.ts';
import { MAX_CHUNK_BYTES, NO_BUFFER } from './VmChannel.ts';
import { VmRegistry, type LabVm } from './VmRegistry.ts';
import { bochsMode, bochsPan } from '../testkit/VfioFixtures.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { DISPI, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import { doubleBuffered, emulatedVm, flip, gvtVm, type TestVm } from '../testkit/node/LabRig.ts';
import { TestClient, WAIT_GUARD_MS } from '../testkit/node/TestClient.ts';
import type { Clock } from '../base/Clock.ts';
import type { IDisposable } from '../base/Disposable.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { GvtGuest } from '../testkit/GvtGuest.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';

/** A clock whose timeouts run only when the test calls `run(at)` (intervals never run). */
class HopClock implements Clock {
  private _due: Array<{ fn: () => void; live: boolean }> = [];
  public constructor(public t: number) {}
  public now(): number {
    return this.t;
  }
  public setTimeout(fn: () => void): IDisposable {
    const e = { fn, live: true };
    this._due.push(e);
    return { dispose: () => { e.live = false; } };
  }
  public setInterval(): IDisposable {
    return { dispose: () => {} };
  }
  /** Move to `at` and run every pending timeout. */
  public run(at: number): void {
    this.t = at;
    for (const e of this._due.splice(0)) if (e.live) e.fn();
  }
}

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

async function attached(s: LabServer, vm: string, query = '', options: ClientOptions = {}): Promise<TestClient> {
  const c = await TestClient.open(wsUrl(s, query), options);
  c.attach(vm);
  await c.next((m) => m.type === Msg.SCANOUT, 'first SCANOUT');
  return c;
}

/** Poll `pred` between I/O turns (bounded: 5 s). */
async function waitUntil(pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred()) {
    assert.ok(Date.now() < deadline, 'condition not reached in 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
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

/** The status line of an upgrade request on a raw socket: proves no 101 came first. */
function rawUpgrade(port: number, path: string, host = '127.0.0.1', extra = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress: host === '127.0.0.1' ? undefined : host });
    let text = '';
    sock.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    sock.on('error', reject);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m === null) reject(new Error(`no status line: ${JSON.stringify(text.slice(0, 80))}`));
      else resolve(Number(m[1]));
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
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

  it('a flip between two buffers the client holds costs one 17-byte SCANOUT', async () => {
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
    let lastSeq: number | undefined;
    for (let i = 0; i < 10; i++) {
      const from = c.messages.length;
      const before = s.stats.bytesSent;
      const target = i % 2 === 0 ? a : b;
      flip(vm, target);
      await settle();
      const m = await c.next((x) => x.type === Msg.SCANOUT, 'SCANOUT', from);
      assert.equal((m as { id: number }).id, i % 2 === 0 ? idA : idB);
      // Version 2: each flip carries its number; a polling (timer) display does not know when the
      // flip latched, so the vblank time says "unknown" (0) rather than the poll's time.
      const sm = m as { flipSeq: number; vblankMs: number };
      assert.equal(sm.vblankMs, 0, 'timer policy: vblank time unknown');
      if (lastSeq !== undefined) assert.equal(sm.flipSeq, lastSeq + 1, 'one flip, one number');
      lastSeq = sm.flipSeq;
      const cost = s.stats.bytesSent - before;
      assert.ok(cost < 100, `flip ${i} cost ${cost} bytes`);
      assert.equal(cost, 17);
      assert.equal(c.bytesSince(from), 17);
    }
    assert.deepEqual(c.protocolErrors, []);
    c.close();
  });

  it('SCANOUT carries the time of the vblank IRQ the display recorded, not its wake-up', async () => {
    // An event-policy display on a clock whose refresh hop runs when the test says: the IRQ is
    // taken at t = 5000, the refresh that finds the flip runs at t = 5007.5.
    const host = new EmulatedHost();
    const vgpu = host.createVgpu('gvt', { ramBytes: 16 * 1024 * 1024 });
    const guest = new GvtGuest(vgpu);
    const fd = host.openDevice(vgpu.uuid);
    assert.ok(fd >= 0);
    const clock = new HopClock(1000);
    const display = new VfioDisplay(host.kernel, fd, { clock, policy: 'event' });
    const a = guest.alloc({ width: 256, height: 16 });
    const b = guest.alloc({ width: 256, height: 16 });
    guest.showPrimary(a);
    guest.vblank();
    display.start();
    assert.equal(display.policy, 'event');
    const s = await serve([{ name: 'irq', kind: 'gvt', display }]);
    const c = await attached(s, 'irq');
    const first = c.messages.find((m) => m.type === Msg.SCANOUT) as { vblankMs: number };
    assert.equal(first.vblankMs, 0, 'shown before any IRQ: unknown');
    const irqs: number[] = [];
    display.console.onScanout(() => irqs.push(display.console.vblankAt!));
    for (const [i, buf] of [b, a, b].entries()) {
      const from = c.messages.length;
      guest.flip(buf);
      clock.t = 5000 + 100 * i;
      guest.vblank();
      assert.equal(irqs.length, i, 'the IRQ only queued a refresh');
      clock.run(5007.5 + 100 * i);
      const m = await c.next((x) => x.type === Msg.SCANOUT, 'SCANOUT', from) as { vblankMs: number; flipSeq: number };
      assert.equal(irqs[i], 5000 + 100 * i, 'the display recorded the IRQ time');
      assert.equal(m.vblankMs, performance.timeOrigin + irqs[i]!, 'SCANOUT: the IRQ time on the host clock');
      assert.notEqual(m.vblankMs, performance.timeOrigin + 5007.5 + 100 * i, 'not the wake-up');
    }
    assert.deepEqual(c.protocolErrors, []);
    c.close();
    display.dispose();
  });

  it('a viewer that reports presented flips is paced: flips beyond two unpresented wait, then the newest goes', async () => {
    const vm = gvtVm('paced');
    const [a, b] = doubleBuffered(vm, 1024, 64);
    vm.fill(a, 0x11);
    vm.fill(b, 0x22);
    vm.refresh();
    const s = await serve([vm]);
    const c = await attached(s, 'paced');
    const scanouts = (): Array<{ flipSeq: number }> => c.messages.filter((m) => m.type === Msg.SCANOUT) as never;
    // Both buffers synced, then the viewer says it presented the last flip: from now on it is paced.
    flip(vm, b);
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT(b)');
    c.send(encodePresented(scanouts().at(-1)!.flipSeq));
    await waitUntil(() => s.clientStats()[0]!.received >= 2);
    for (const buf of [a, b]) {
      const from = c.messages.length;
      flip(vm, buf);
      await c.next((m) => m.type === Msg.SCANOUT, 'a flip in flight', from);
    }
    const inFlight = scanouts().slice(-2).map((m) => m.flipSeq);
    // Two unpresented: the next flips are held on the server (nothing queued for the socket).
    const before = s.stats.messagesSent;
    for (const buf of [a, b, a]) {
      flip(vm, buf);
      await settle();
    }
    assert.equal(s.stats.messagesSent, before, 'held while two flips are unpresented');
    // Presenting the newer of the two releases the newest flip, numbered past the ones it skipped.
    const from = c.messages.length;
    c.send(encodePresented(inFlight[1]!));
    const next = await c.next((m) => m.type === Msg.SCANOUT, 'the newest flip', from) as { flipSeq: number; id: number };
    assert.equal(next.flipSeq, inFlight[1]! + 3, 'the newest flip; the two before it were never sent');
    assert.deepEqual(c.buffers.get(next.id)!.bytes, vm.bytes(a));
    // A flip never sent is a protocol error; an old one changes nothing.
    c.send(encodePresented(inFlight[0]!));
    c.send(encodePresented(next.flipSeq + 5));
    await c.next((m) => m.type === Msg.ERROR, 'ERROR for a flip never sent', from);
    const errors = c.messages.slice(from).filter((m) => m.type === Msg.ERROR);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as { text: string }).text, /PRESENTED \d+: no such flip sent/);
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
    // A clock probe is answered attached or not: the client's time echoed, the host's added.
    const t0 = performance.timeOrigin + performance.now();
    c.send(encodePing(77, t0));
    const pong = await c.next((m) => m.type === Msg.PONG, 'PONG', from) as { seq: number; clientMs: number; serverMs: number };
    assert.deepEqual([pong.seq, pong.clientMs], [77, t0]);
    assert.ok(pong.serverMs >= t0 && pong.serverMs <= performance.timeOrigin + performance.now(), 'host time inside the round trip');
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
    assert.equal(c.bytesSince(from), 17);
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
    // Releases of a key never pressed. The limit is per 1 s window and a loaded host may spread the
    // burst over a window boundary: 3 × the rate + 3 puts more than the rate in one window as long
    // as the burst takes under 2 s.
    for (let i = 0; i < 3 * MESSAGE_RATE + 3; i++) flood.send(encodeKey(30, false));
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
    if (!converged(fast)()) await fast.next(converged(fast), 'fast client converged', 0);
    slow.socket.resume();
    await slow.next(converged(slow), 'slow client converged', 0);
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
    const s = await serve([vm], { maxPerAddress: 128, maxPending: 128 });
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

describe('LabServer: limits under attack', () => {
  it('40 clients that stop reading stay within the global budget; a fresh viewer gets frames; the stuck go', async () => {
    const vm = gvtVm('budget', { ramMiB: 8 });
    const [a, b] = doubleBuffered(vm, 512, 384); // 768 KiB each
    const budget = 6 * 1024 * 1024;
    const s = await serve([vm], {
      maxQueuedBytes: 1024 * 1024, maxQueuedTotal: budget, stallMs: 1500, maxPerAddress: 10, maxPending: 64,
    });
    // Distinct peer addresses on loopback (127.0.0.0/8 is all local on Linux).
    const stuck = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      attached(s, 'budget', '', { localAddress: `127.0.0.${2 + (i % 5)}` })));
    for (const c of stuck) c.socket.pause();
    let i = 0;
    const draw = (): void => {
      const buf = ++i % 2 === 0 ? a : b;
      vm.fill(buf, i & 0xff);
      flip(vm, buf);
    };
    // Draw until the budget is tight (a stuck client was dropped for its share) or for 600 flips.
    while (s.stats.budget.evictedShare === 0 && i < 600) {
      draw();
      await settle();
      assert.ok(s.stats.budget.queuedBytes <= budget, `queued ${s.stats.budget.queuedBytes} > ${budget}`);
    }
    assert.ok(s.stats.budget.queuedPeak > budget / 2, `the attack filled the budget (peak ${s.stats.budget.queuedPeak})`);
    const t0 = Date.now();
    const fresh = TestClient.connect(wsUrl(s));
    await once(fresh.ws, 'open');
    fresh.attach('budget');
    const mark = 0;
    let shown = false;
    void fresh.next((m) => m.type === Msg.SCANOUT, 'fresh SCANOUT', mark, 30_000).then(() => { shown = true; });
    while (!shown && Date.now() - t0 < 30_000) {
      draw();
      await new Promise((r) => setTimeout(r, 5));
      assert.ok(s.stats.budget.queuedBytes <= budget);
    }
    const ms = Date.now() - t0;
    assert.ok(shown && ms < 2000, `the fresh viewer got its first frame after ${ms} ms`);
    // Without any heartbeat (off here), every stuck client is dropped after stallMs once it has
    // output waiting (the guest keeps drawing).
    await waitFor(() => {
      draw();
      return s.stats.clients === 1;
    }, 'the stuck clients were dropped', 30_000);
    assert.ok(s.stats.budget.evictedShare + s.stats.budget.evictedStalled >= 40, JSON.stringify(s.stats.budget));
    assert.ok(s.stats.budget.queuedPeak <= budget, `peak ${s.stats.budget.queuedPeak}`);
    assert.equal(s.stats.budget.queuedBytes, fresh.ws.readyState === fresh.ws.OPEN ? s.stats.queuedBytes : 0);
    for (const c of stuck) c.ws.terminate();
    fresh.close();
  });

  it('idle pre-auth sockets from many addresses do not lock out a viewer with the token', async () => {
    const vm = gvtVm('gate');
    doubleBuffered(vm, 128, 32);
    const s = await serve([vm], { token: 'tok', maxConnections: 96, maxPerAddress: 16, maxPending: 32 });
    const idle: Socket[] = [];
    for (let k = 0; k < 120; k++) {
      const sock = connect({ host: '127.0.0.1', port: s.port, localAddress: `127.0.0.${2 + (k % 8)}` });
      sock.on('error', () => {});
      idle.push(sock);
      await once(sock, 'connect');
    }
    await waitFor(() => s.stats.connections.open <= 32, 'the gate bounded the idle sockets');
    assert.ok(s.stats.connections.pending <= 32);
    const over = connect({ host: '127.0.0.1', port: s.port, localAddress: '127.0.0.20' });
    const extra: Socket[] = [over];
    for (let k = 0; k < 20; k++) extra.push(connect({ host: '127.0.0.1', port: s.port, localAddress: '127.0.0.21' }));
    for (const x of extra) x.on('error', () => {});
    await Promise.all(extra.map((x) => once(x, 'connect')));
    await waitFor(() => s.stats.connections.refusedPerAddress >= 4, 'per-address cap');
    const viewer = await attached(s, 'gate', '?token=tok');
    assert.ok(viewer.scanout !== undefined);
    assert.ok(s.stats.connections.evicted > 0, JSON.stringify(s.stats.connections));
    for (const x of [...idle, ...extra]) x.destroy();
    viewer.close();
  });

  it('a connection with no request is cut at the deadline', async () => {
    const s = await serve([], { requestDeadlineMs: 300 });
    const sock = connect({ host: '127.0.0.1', port: s.port });
    sock.on('error', () => {});
    await once(sock, 'connect');
    await once(sock, 'close');
    assert.equal(s.stats.connections.timedOut, 1);
  });

  it('10,000 refused upgrades write a bounded number of log lines and a summary', async () => {
    const lines: string[] = [];
    const s = await serve([], { log: (l) => lines.push(l), maxPerAddress: 64, maxPending: 128 });
    const before = lines.length;
    let done = 0;
    const worker = async (w: number): Promise<void> => {
      while (done < 10_000) {
        done++;
        const status = await rawUpgrade(s.port, '/ws', `127.0.0.${2 + w}`, `Origin: http://evil.example/\t${'\x9b31m'.repeat(3)}${'x'.repeat(4000)}\r\n`);
        assert.equal(status, 403);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    const written = lines.slice(before);
    assert.ok(written.length <= 12, `${written.length} log lines:\n${written.slice(0, 20).join('\n')}`);
    assert.ok(written.every((l) => l.length < 300 && !/[\t\x9b]/.test(l)), 'peer text is escaped and cut');
    assert.ok(s.stats.logSuppressed >= 9_990 - 12, `suppressed ${s.stats.logSuppressed}`);
    await s.close();
    assert.match(lines.at(-1)!, /^… [\d,]+ more refused cross-origin upgrades in the last minute$/);
  });

  it('an ATTACH flood between two VMs is refused past the rate limit: bytes stay bounded', async () => {
    const one = gvtVm('one');
    const two = gvtVm('two');
    const [a1] = doubleBuffered(one, 256, 256);
    const [a2] = doubleBuffered(two, 256, 256);
    one.fill(a1, 0x31);
    two.fill(a2, 0x32);
    one.refresh();
    two.refresh();
    const s = await serve([one, two]);
    const c = await attached(s, 'one');
    // A switch back to a VM the client saw a moment ago resends nothing it still holds.
    let from = c.messages.length;
    c.attach('two');
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT two', from);
    from = c.messages.length;
    const mark = c.bytesReceived;
    c.attach('one');
    await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT one again', from);
    assert.ok(c.bytesReceived - mark < 1024, `a switch back cost ${c.bytesReceived - mark} bytes`);
    assert.deepEqual(c.buffers.get(c.scanout!)!.bytes, one.bytes(a1));
    for (let k = 0; k < 1000 && c.ws.readyState === c.ws.OPEN; k++) {
      c.send(encodeAttach(k % 2 === 0 ? 'two' : 'one'));
      if (k % 50 === 0) await settle();
    }
    const closed = await c.closed;
    assert.equal(closed.code, CloseCode.POLICY, 'a client that keeps flooding is closed');
    const refused = c.messages.filter(isError(ErrorCode.TOO_MANY)).length;
    assert.ok(refused >= 20, `refused ${refused}`);
    // At most the burst (8) plus what the rate allows during the flood were served, each at most
    // one display (256 KiB) plus small messages.
    assert.ok(c.bytesReceived < 12 * (a1.size + 4096), `received ${c.bytesReceived} bytes`);
  });

  it('RESIZE is rate-limited per client and per VM: a flood reaches the guest a few times only', async () => {
    const vm = gvtVm('rs');
    doubleBuffered(vm, 128, 32);
    const s = await serve([vm]);
    const clients = await Promise.all([0, 1, 2].map(() => attached(s, 'rs')));
    for (let k = 0; k < 10; k++) for (const c of clients) c.send(encodeResize(640 + k, 480));
    await Promise.all(clients.map((c) => c.next((m) => m.type === Msg.ERROR && m.code === ErrorCode.TOO_MANY, 'ERROR 429', 0)));
    await settle();
    // Per client the burst is 4 (3 clients: 12), per VM 8: the VM gets at most 8 of the 30.
    assert.ok(vm.resizes.length >= 4 && vm.resizes.length <= 8, `${vm.resizes.length} resizes reached the VM`);
    for (const c of clients) c.close();
  });

  it('serves HTTPS and WSS with a certificate (self-signed, made here)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpu-tls-'));
    try {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const cert = readFileSync(join(dir, 'cert.pem'));
      const key = readFileSync(join(dir, 'key.pem'));
      const vm = gvtVm('tls');
      doubleBuffered(vm, 128, 32);
      const s = await serve([vm], { tls: { cert, key }, token: 'tlstok' });
      assert.match(s.publicUrl, /^https:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        httpsGet({ host: '127.0.0.1', port: s.port, path: '/', ca: cert }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => { body += d.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
      assert.equal(page.status, 200);
      assert.match(page.body, /viewer/);
      // Plain HTTP to the TLS port gets nothing served.
      await assert.rejects(httpGet(s, '/'));
      const c = await TestClient.open(`wss://127.0.0.1:${s.port}/ws?token=tlstok`, { ca: cert });
      c.attach('tls');
      await c.next((m) => m.type === Msg.SCANOUT, 'SCANOUT over WSS');
      assert.equal(await upgradeStatus(`wss://127.0.0.1:${s.port}/ws?token=nope`, { ca: cert }), 401);
      c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

  it('refuses a non-loopback listen address without --token, and without TLS unless insecure', async () => {
    const vms = new VmRegistry();
    for (const listen of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      assert.throws(() => new LabServer({ vms, listen, port: 0 }), /non-loopback .* without --token/);
      assert.throws(() => new LabServer({ vms, listen, port: 0, token: 't' }), /without TLS/);
    }
    assert.throws(() => new LabServer({ vms, listen: '0.0.0.0', token: '', port: 0 }), /must not be empty/);
    for (const listen of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) new LabServer({ vms, listen, port: 0 });
    const lines: string[] = [];
    const open = await serve([], { listen: '0.0.0.0', token: 't0ken', insecure: true, log: (l) => lines.push(l) });
    assert.equal((await httpGet(open, '/?token=t0ken')).status, 200);
    assert.ok(lines.some((l) => /WARNING: --insecure/.test(l)), `says so on start: ${lines.join(' | ')}`);
    assert.ok(lines.every((l) => !l.includes('t0ken')), 'the token is never logged');
  });

  it('refuses a wrong token with 401 before any 101, sets no cookie, accepts query or bearer', async () => {
    const vm = gvtVm('tok');
    doubleBuffered(vm, 128, 32);
    const lines: string[] = [];
    const s = await serve([vm], { token: 's3cret', log: (l) => lines.push(l) });
    assert.ok(s.url.endsWith('/?token=s3cret'));
    assert.ok(!s.publicUrl.includes('s3cret'));
    assert.ok(lines.every((l) => !l.includes('s3cret')), `the token is never logged: ${lines.join(' | ')}`);
    // The viewer's files are public (a browser cannot present the token for them without a
    // cookie); a wrong token presented is still refused.
    assert.equal((await httpGet(s, '/')).status, 200);
    assert.equal((await httpGet(s, '/?token=wrong')).status, 401);
    assert.equal((await httpGet(s, '/?token=s3cret0')).status, 401);
    const page = await httpGet(s, '/?token=s3cret');
    assert.equal(page.status, 200);
    assert.equal(page.headers['set-cookie'], undefined, 'no cookie: every other port of the host would receive it');
    assert.equal((await httpGet(s, '/viewer.js', { authorization: 'Bearer s3cret' })).status, 200);
    for (const q of ['', '?token=wrong']) {
      assert.equal(await rawUpgrade(s.port, `/ws${q}`), 401, `upgrade ${q}`);
      assert.equal(await upgradeStatus(wsUrl(s, q)), 401);
    }
    assert.equal(await upgradeStatus(wsUrl(s), { headers: { cookie: 'vgpu_token=s3cret' } }), 401, 'cookies are not a credential');
    assert.equal(s.stats.wsAccepted, 0);
    const byQuery = await TestClient.open(wsUrl(s, '?token=s3cret'));
    const byBearer = await TestClient.open(wsUrl(s), { headers: { authorization: 'Bearer s3cret' } });
    byBearer.attach('tok');
    await byBearer.next((m) => m.type === Msg.SCANOUT, 'SCANOUT');
    byQuery.close();
    byBearer.close();
  });

  it('tells a VM when its last viewer leaves (to restore its mode), not before, not on shutdown', async () => {
    const vm = gvtVm('leave');
    const [a] = doubleBuffered(vm, 256, 64);
    flip(vm, a);
    vm.refresh();
    let left = 0;
    const hooked: LabVm = { ...vm, lastViewerLeft: () => { left++; } };
    const s = await serve([hooked]);
    const c1 = await attached(s, 'leave');
    const c2 = await attached(s, 'leave');
    c1.close();
    await waitUntil(() => s.stats.clients === 1);
    assert.equal(left, 0, 'one viewer is still there');
    c2.close();
    await waitUntil(() => left === 1);
    const c3 = await attached(s, 'leave');
    assert.equal(left, 1);
    await s.close();
    assert.equal(left, 1, 'a server shutdown restores nothing');
    c3.close();
  });

  it('takes the next free port when the default one is busy', async () => {
    const blocker: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const log: string[] = [];
      const s = await serve([], { port: busy, log: (l) => log.push(l) });
      assert.ok(s.port > busy && s.port <= busy + 20, `got ${s.port}`);
      // Not silently: the terminal says which port it took instead.
      assert.ok(log.includes(`port ${busy} is in use; serving on ${s.port} instead`), log.join('\n'));
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

/**
 * Wait until `cond` holds (server-side cleanup after a client's close: socket I/O, so a count of
 * event-loop turns is no bound on a loaded machine). Re-checked every few ms; the guard only
 * ends a wait that would hang.
 */
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited > WAIT_GUARD_MS) throw new Error(`${what} never held`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Poll (20 ms) until `cond` holds: for what real timers drive (deadlines, stall checks). */
async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: never held`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
