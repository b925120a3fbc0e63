// Measures the QEMU D-Bus display path on a real QEMU (TCG): registration, the VGA text console
// while the guest floods it, and what our listener does with it. One run, prints JSON.
// Run: node --import tsx test/qemu/measure.ts [lines]
import { charKey, KEY } from '../../src/guest/os/Evdev.ts';
import { Lab } from '../../src/lab/Lab.ts';
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
const client = await TestClient.open(`ws://127.0.0.1:${lab.server!.port}/ws`);
client.attach('qemu-1');
const wsTimes: number[] = [];
client.ws.on('message', () => wsTimes.push(performance.now()));
const updateTimes: number[] = [];
v.console.onUpdate(() => updateTimes.push(performance.now()));
await q.waitSerial('GUEST-READY');
await waitFor(async () => (await q.vgaText()).includes('guest#'), 'prompt');
const cmd = `flood ${lines}`;
for (let i = 0; i < cmd.length; i++) {
  const k = charKey(cmd[i]!)!;
  v.sendKey(k.code, true);
  v.sendKey(k.code, false);
  await waitFor(async () => (await q.vgaText()).includes(`guest# ${cmd.slice(0, i + 1)}`), 'echo');
}
const s0 = { ...v.listener.stats };
let updates = 0;
let lastUpdate = 0;
v.console.onUpdate(() => { updates++; lastUpdate = performance.now(); });
const cpu0 = process.cpuUsage();
const w0 = performance.now();
const ws0 = client.bytesReceived;
const u0 = updateTimes.length;
v.sendKey(KEY.ENTER, true);
v.sendKey(KEY.ENTER, false);
await q.waitSerial(`FLOOD-END ${lines}`, 120_000);
// The last lines reach the screen after the marker reaches the serial log: wait for them.
await waitFor(async () => (await q.vgaText()).includes(`flood line ${lines - 1} `) || undefined, 'the last line on screen', 30_000);
const wall = (lastUpdate - w0) / 1000;
const cpu = process.cpuUsage(cpu0);
const s1 = v.listener.stats;
// Latency: an Update decoded from QEMU's socket → the next WebSocket message on the client.
const lat: number[] = [];
let j = 0;
// Only the flood's updates: an idle Update that repaints the same pixels sends nothing (the
// mirror diffs content), so it has no "next message" of its own.
for (const t of updateTimes.slice(u0)) {
  while (j < wsTimes.length && wsTimes[j]! < t) j++;
  if (j < wsTimes.length) lat.push(wsTimes[j]! - t);
}
lat.sort((a, b) => a - b);
const pct = (p: number): number => Math.round((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN) * 100) / 100;
console.log(JSON.stringify({
  qemuSpawnToFirstScanoutMs: Math.round(firstScanout),
  registrations: v.registrations,
  lastRegisterListenerMs: Math.round(v.lastRegisterMs * 100) / 100,
  floodLines: lines,
  floodSeconds: Math.round(wall * 1000) / 1000,
  updates: s1.updates - s0.updates,
  scanouts: s1.scanouts - s0.scanouts,
  bytesReceived: s1.bytesReceived - s0.bytesReceived,
  bytesCopied: s1.bytesCopied - s0.bytesCopied,
  updatesPerSecond: Math.round((s1.updates - s0.updates) / wall),
  megabytesPerSecond: Math.round(((s1.bytesReceived - s0.bytesReceived) / wall / 1e6) * 10) / 10,
  consoleUpdateEvents: updates,
  listenerCpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
  floodWebSocketBytes: client.bytesReceived - ws0,
  floodUpdatesSeenByConsole: updateTimes.length - u0,
  updateToWebSocketMs: { samples: lat.length, p50: pct(0.5), p99: pct(0.99), max: pct(1) },
}, null, 2));
client.close();
await lab.stop();
m.dispose();
await q.stop();
