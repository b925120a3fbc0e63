// Measures the QEMU D-Bus display path on a real QEMU (TCG): registration, the VGA text console
// while the guest floods it, and what our listener does with it; then the same flood again with a
// second WebSocket client that never reads (a stalled browser), to show QEMU does not wait on it.
// One run, prints JSON. Run: node --import tsx test/qemu/measure.ts [lines]
import { charKey, KEY } from '../../src/guest/os/Evdev.ts';
import { Lab } from '../../src/lab/Lab.ts';
import { Msg } from '../../src/protocol/RemoteProtocol.ts';
import { TestClient } from '../../src/testkit/node/TestClient.ts';
import { QemuMachine } from '../../src/qemu/QemuMachine.ts';
import { parseQemuSpec } from '../../src/qemu/QemuSession.ts';
import { QemuProcess, waitFor } from '../../src/testkit/node/QemuProcess.ts';

const lines = Number(process.argv[2] ?? 3000);
const t0 = performance.now();
const q = QemuProcess.start({ mode: 'p2p' });
await q.qmp().then((c) => c.close());
const m = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1');
const v = m.views[0]!;
const firstScanout = await waitFor(() => (v.console.scanout ? performance.now() - t0 : undefined), 'first scanout');
// The gateway: the lab server with this VM and one attached WebSocket client on loopback.
const lab = await Lab.start({ vms: [], extraVms: [v], refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0, log: () => undefined });
const url = `ws://127.0.0.1:${lab.server!.port}/ws`;
const client = await TestClient.open(url);
client.attach('qemu-1');
const wsTimes: number[] = [];
client.ws.on('message', () => wsTimes.push(performance.now()));
const updateTimes: number[] = [];
v.console.onUpdate(() => updateTimes.push(performance.now()));
await q.waitSerial('GUEST-READY');
await waitFor(async () => (await q.vgaText()).includes('guest#'), 'prompt');
const registerMs = v.lastRegisterMs;
const registrations = v.registrations;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN) * 100) / 100;
};

/** Type `flood N` (QemuInput paces the burst), measure until the last line is on screen. */
async function flood(n: number, stalled?: TestClient) {
  const cmd = `flood ${n}`;
  for (const ch of cmd) {
    const k = charKey(ch)!;
    v.sendKey(k.code, true);
    v.sendKey(k.code, false);
  }
  await waitFor(async () => (await q.vgaText()).includes(`guest# ${cmd}`), 'the command echoed', 60_000);
  const s0 = { ...v.listener.stats };
  let lastUpdate = 0;
  const sub = v.console.onUpdate(() => { lastUpdate = performance.now(); });
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  const ws0 = client.bytesReceived;
  const u0 = updateTimes.length;
  // QEMU's main loop answers QMP: its round trip while the flood runs says whether it waits.
  const mon = await q.qmp();
  const qmpRtt: number[] = [];
  let stalledPeak = 0;
  let flooding = true;
  const probe = (async () => {
    while (flooding) {
      const t = performance.now();
      await mon.execute('query-status');
      qmpRtt.push(performance.now() - t);
      const sq = lab.server!.clientStats().find((c) => c.id === 2)?.queuedBytes ?? 0;
      stalledPeak = Math.max(stalledPeak, sq);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  v.sendKey(KEY.ENTER, true);
  v.sendKey(KEY.ENTER, false);
  await q.waitSerial(`FLOOD-END ${n}`, 300_000);
  // QEMU's QMP socket takes one client at a time: the probe's goes before vgaText's.
  flooding = false;
  await probe;
  mon.close();
  // The last lines reach the screen after the marker reaches the serial log: wait for them.
  await waitFor(async () => (await q.vgaText()).includes(`flood line ${n - 1} `) || undefined, 'the last line on screen', 60_000);
  sub.dispose();
  const wall = (lastUpdate - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const s1 = v.listener.stats;
  // Latency: an Update decoded from QEMU's socket → the next WebSocket message on the reader.
  // Only the flood's updates: an idle Update that repaints the same pixels sends nothing (the
  // mirror diffs content), so it has no "next message" of its own.
  const lat: number[] = [];
  let j = 0;
  for (const t of updateTimes.slice(u0)) {
    while (j < wsTimes.length && wsTimes[j]! < t) j++;
    if (j < wsTimes.length) lat.push(wsTimes[j]! - t);
  }
  return {
    floodLines: n,
    stalledClient: stalled !== undefined,
    floodSeconds: Math.round(wall * 1000) / 1000,
    updates: s1.updates - s0.updates,
    scanouts: s1.scanouts - s0.scanouts,
    bytesReceived: s1.bytesReceived - s0.bytesReceived,
    bytesCopied: s1.bytesCopied - s0.bytesCopied,
    updatesPerSecond: Math.round((s1.updates - s0.updates) / wall),
    megabytesPerSecond: Math.round(((s1.bytesReceived - s0.bytesReceived) / wall / 1e6) * 10) / 10,
    listenerCpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    readerWebSocketBytes: client.bytesReceived - ws0,
    updateToWebSocketMs: { samples: lat.length, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: pct(lat, 1) },
    qmpRoundTripMs: { samples: qmpRtt.length, p50: pct(qmpRtt, 0.5), p99: pct(qmpRtt, 0.99), max: pct(qmpRtt, 1) },
    ...(stalled ? { stalledQueuePeakBytes: stalledPeak, stalledClientDroppedByServer: !lab.server!.clientStats().some((c) => c.id === 2) } : {}),
  };
}

const alone = await flood(lines);
// A second client attaches, gets its first frame, then never reads again.
const stalled = await TestClient.open(url);
stalled.attach('qemu-1');
await stalled.next((x) => x.type === Msg.SCANOUT, 'the stalled client\'s first SCANOUT');
stalled.socket.pause();
const withStalled = await flood(lines + 1, stalled);

console.log(JSON.stringify({
  qemuSpawnToFirstScanoutMs: Math.round(firstScanout),
  registrations,
  lastRegisterListenerMs: Math.round(registerMs * 100) / 100,
  alone,
  withStalled,
}, null, 2));
stalled.close();
client.close();
await lab.stop();
m.dispose();
await q.stop();
