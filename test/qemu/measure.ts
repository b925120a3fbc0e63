// Measures the QEMU D-Bus display path on a real QEMU (TCG): registration, the VGA text console
// while the guest floods it, and what our listener does with it. One run, prints JSON.
// Run: node --import tsx test/qemu/measure.ts [lines]
import { charKey, KEY } from '../../src/guest/os/Evdev.ts';
import { QemuMachine } from '../../src/qemu/QemuMachine.ts';
import { parseQemuSpec } from '../../src/qemu/QemuSession.ts';
import { QemuProcess, waitFor } from '../../src/qemu/testing/QemuProcess.ts';

const lines = Number(process.argv[2] ?? 3000);
const t0 = performance.now();
const q = QemuProcess.start({ mode: 'p2p' });
await q.qmp().then((c) => c.close());
const m = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1');
const v = m.views[0]!;
const firstScanout = await waitFor(() => (v.console.scanout ? performance.now() - t0 : undefined), 'first scanout');
await q.waitSerial('GUEST-READY');
await waitFor(async () => (await q.vgaText()).includes('guest#'), 'prompt');
const cmd = `flood ${lines}`;
for (let i = 0; i < cmd.length; i++) {
  const k = charKey(cmd[i]!)!;
  v.sendKey(k.code, true);
  v.sendKey(k.code, false);
  await waitFor(async () => (await q.vgaText()).includes(`guest# ${cmd.slice(0, i + 1)}`), 'echo');
}
// Per-Update cost inside our process: console.update fired → measured around the listener.
const s0 = { ...v.listener.stats };
let updates = 0;
let lastUpdate = 0;
v.console.onUpdate(() => { updates++; lastUpdate = performance.now(); });
const cpu0 = process.cpuUsage();
const w0 = performance.now();
v.sendKey(KEY.ENTER, true);
v.sendKey(KEY.ENTER, false);
await q.waitSerial(`FLOOD-END ${lines}`, 120_000);
// The last lines reach the screen after the marker reaches the serial log: wait for them.
await waitFor(async () => (await q.vgaText()).includes(`flood line ${lines - 1} `) || undefined, 'the last line on screen', 30_000);
const wall = (lastUpdate - w0) / 1000;
const cpu = process.cpuUsage(cpu0);
const s1 = v.listener.stats;
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
}, null, 2));
m.dispose();
await q.stop();
