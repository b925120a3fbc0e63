/**
 * QEMU must never wait on us: a viewer that stops reading its WebSocket fills only its own bounded
 * queue in the server; our D-Bus listener keeps reading QEMU's Updates, so QEMU's main loop (the
 * guest's display, its QMP monitor) and the guest itself go on. Real QEMU (TCG, p2p), the lab
 * server on loopback, two raw WebSocket clients (one reading, one paused). Assertions are on
 * progress and state; the Update counts of a flood with and without the stalled client are
 * printed (`npm run bench`'s QEMU figures come from test/qemu/measure.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { charKey, KEY } from '../../src/guest/os/Evdev.ts';
import { Msg } from '../../src/protocol/RemoteProtocol.ts';
import { QemuMachine } from '../../src/qemu/QemuMachine.ts';
import { parseQemuSpec } from '../../src/qemu/QemuSession.ts';
import { renderConsole } from '../../src/qemu/QemuSnapshot.ts';
import type { QemuView } from '../../src/qemu/QemuView.ts';
import { MAX_CHUNK_BYTES } from '../../src/server/ChunkCache.ts';
import { LabServer } from '../../src/server/LabServer.ts';
import { VmRegistry } from '../../src/server/VmRegistry.ts';
import { QemuProcess, testGuest, waitFor } from '../../src/testkit/node/QemuProcess.ts';
import { TestClient } from '../../src/testkit/node/TestClient.ts';

/** The per-client queue bound: small, so the stalled client reaches it early in the flood. */
const BOUND = 512 * 1024;
/** Queued bytes that say backpressure engaged: the kernel's loopback buffers are full. */
const ENGAGED = 64 * 1024;
/** Lines per flood: long enough to fill the loopback buffers and the server's queue behind them. */
const LINES = 3000;

let q: QemuProcess;
let m: QemuMachine;
let view: QemuView;
let server: LabServer;
const clients: TestClient[] = [];

before(async () => {
  testGuest();
  q = QemuProcess.start({ mode: 'p2p' });
  await q.qmp().then((c) => c.close());
  m = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1');
  view = m.views[0]!;
  server = await LabServer.start({
    vms: new VmRegistry([view]), listen: '127.0.0.1', port: 0, maxQueuedBytes: BOUND, statsIntervalMs: 0, heartbeatMs: 0,
  });
  await q.waitSerial('GUEST-READY');
  await waitFor(async () => (await q.vgaText()).includes('guest#'), 'the shell prompt');
});

after(async () => {
  for (const c of clients) c.close();
  await server?.close();
  m?.dispose();
  await q?.stop();
});

async function viewer(): Promise<TestClient> {
  const c = await TestClient.open(`ws://127.0.0.1:${server.port}/ws`);
  clients.push(c);
  c.attach('qemu-1');
  await c.next((x) => x.type === Msg.SCANOUT, 'the first SCANOUT');
  return c;
}

/** Type a command and Enter in one burst (QemuInput paces it for the guest's PS/2 queue). */
function run(cmd: string): void {
  for (const ch of cmd) {
    const k = charKey(ch)!;
    if (k.shift) view.sendKey(KEY.LEFTSHIFT, true);
    view.sendKey(k.code, true);
    view.sendKey(k.code, false);
    if (k.shift) view.sendKey(KEY.LEFTSHIFT, false);
  }
  view.sendKey(KEY.ENTER, true);
  view.sendKey(KEY.ENTER, false);
}

/** Our picture equal to QEMU's screendump (so we kept up with every Update). */
async function waitSame(what: string): Promise<void> {
  let last: number | string = '';
  await waitFor(async () => {
    const p = renderConsole(view.console);
    const d = await q.screendump();
    if (p.width !== d.width || p.height !== d.height) return (last = `${p.width}x${p.height} vs ${d.width}x${d.height}`) && false;
    let n = 0;
    for (let i = 0, j = 0; i < p.rgba.length; i += 4, j += 3) if (p.rgba[i] !== d.rgb[j] || p.rgba[i + 1] !== d.rgb[j + 1] || p.rgba[i + 2] !== d.rgb[j + 2]) n++;
    last = n;
    return n === 0;
  }, `${what}: our picture equal to QMP screendump (last: ${last})`, 150_000);
}

/** The server's view of client `c` (by the order they connected: ids count from 1). */
function queued(id: number): number | undefined {
  return server.clientStats().find((s) => s.id === id)?.queuedBytes;
}

describe('QEMU never waits on a slow viewer (real QEMU, lab server, raw WebSocket clients)', { timeout: 900_000 }, () => {
  it('a client that never reads: the guest floods its console to the end, QMP answers, Updates keep coming, the reader keeps receiving', async (t) => {
    const reader = await viewer();

    // Run 1: only the reader.
    let u0 = view.listener.stats.updates;
    run(`flood ${LINES}`);
    await q.waitSerial(`FLOOD-END ${LINES}`);
    await waitFor(async () => (await q.vgaText()).includes(`flood line ${LINES - 1} `), 'the last line on screen');
    await waitSame('after the first flood');
    const alone = view.listener.stats.updates - u0;

    // Run 2: plus a client that stops reading once attached.
    const stalled = await viewer();
    const stalledId = Math.max(...server.clientStats().map((s) => s.id));
    stalled.socket.pause();
    const stalledBytes = stalled.bytesReceived;
    u0 = view.listener.stats.updates;
    const r0 = reader.bytesReceived;
    let peak = 0;
    const sample = (): void => { peak = Math.max(peak, queued(stalledId) ?? 0); };
    run(`flood ${LINES + 1}`);
    // Backpressure engaged: bytes wait in the server's queue for it (or the budget dropped it).
    await waitFor(() => {
      sample();
      const b = queued(stalledId);
      if (b === undefined || q.serial().includes(`FLOOD-END ${LINES + 1}`)) return true;
      return b >= ENGAGED || undefined;
    }, 'the stalled client\'s queue to fill');
    assert.ok(peak >= ENGAGED || queued(stalledId) === undefined, `backpressure engaged before the flood ended (peak ${peak} bytes)`);
    const uFull = view.listener.stats.updates;
    // While it stays stalled, QEMU's monitor answers and its display goes on.
    const mon = await q.qmp();
    try {
      const st = await mon.execute('query-status') as { status: string; running: boolean };
      assert.equal(st.status, 'running', 'QMP answers with the guest running');
    } finally {
      mon.close();
    }
    await waitFor(() => { sample(); return q.serial().includes(`FLOOD-END ${LINES + 1}`) || undefined; }, 'the guest to finish its flood');
    await waitFor(async () => { sample(); return (await q.vgaText()).includes(`flood line ${LINES} `); }, 'the last line on screen');
    await waitSame('after the flood with a stalled client');
    const withStalled = view.listener.stats.updates - u0;
    t.diagnostic(`Updates received: ${alone} flooding ${LINES} lines with one reader, ${withStalled} flooding ${LINES + 1} with a stalled client besides (its queue peaked at ${peak} bytes${queued(stalledId) === undefined ? ', then the server dropped it' : ''})`);

    assert.ok(view.listener.stats.updates > uFull, 'Updates kept arriving after the stalled client\'s queue was full');
    assert.ok(reader.bytesReceived > r0, 'the reading client kept receiving');
    assert.equal(stalled.bytesReceived, stalledBytes, 'the stalled client read nothing meanwhile');
    assert.ok(peak <= BOUND + MAX_CHUNK_BYTES + 64, `the stalled client's queue stayed bounded (peak ${peak})`);
    assert.ok(server.stats.queuedPeak <= BOUND + MAX_CHUNK_BYTES + 64, `no client's queue passed its bound (peak ${server.stats.queuedPeak})`);
  });
});
