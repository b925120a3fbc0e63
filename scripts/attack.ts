/**
 * The issue-13 attacks against a real `vgpu-display run`, on loopback only (127.0.0.2… as distinct
 * peers), bounded in count and time; prints the lab's RSS and fd figures.
 *
 *   node --import tsx scripts/attack.ts [--clients 200] [--idle 2000] [--seconds 20] [--max-queued MiB]
 *
 * 1. `--clients` viewers attach to the gvt VM (its desktop keeps drawing) and stop reading.
 * 2. A fresh viewer opens meanwhile: time to its first SCANOUT.
 * 3. `--idle` TCP connections that never send a byte, from 16 addresses; then a viewer with the token.
 * RSS and open fds of the lab are sampled from /proc every 250 ms.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Msg } from '../src/protocol/RemoteProtocol.ts';
import { TestClient } from '../src/testkit/node/TestClient.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(args[i + 1]);
};
const CLIENTS = Math.min(flag('clients', 200), 250);
const IDLE = Math.min(flag('idle', 2000), 5000);
const SECONDS = Math.min(flag('seconds', 20), 120);
const MAX_QUEUED = flag('max-queued', 256);
const TOKEN = 'attack-run-token';
const BIN = fileURLToPath(new URL('../bin/vgpu-display.mjs', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

const child = spawn(process.execPath, [BIN, 'run', '--vms', 'gvt', '--port', '0', '--max-queued', String(MAX_QUEUED)],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, VGPU_DISPLAY_TOKEN: TOKEN } });
let out = '';
child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
const pid = child.pid!;
try {
  const deadline = Date.now() + 120_000;
  while (!/gvt-1: started the graphical session/.test(out) || !/open http:\/\/127\.0\.0\.1:(\d+)\//.test(out)) {
    if (Date.now() > deadline) throw new Error(`the lab did not come up:\n${out}`);
    await sleep(100);
  }
  const port = Number(/open http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
  const url = `ws://127.0.0.1:${port}/ws?token=${TOKEN}`;
  const base = { ...rssMiB(pid), fds: fds(pid) };
  console.log(`lab pid ${pid} port ${port}: idle RSS ${base.rss.toFixed(0)} MiB, ${base.fds} fds`);

  let peak = 0;
  let peakFds = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid).rss);
      peakFds = Math.max(peakFds, fds(pid));
    } catch { /* exited */ }
  }, 250);

  // 1. Non-reading viewers, 20 per address, in batches (the pending cap is per handshake).
  const good = await TestClient.open(url);
  good.attach('gvt-1');
  await good.next((m) => m.type === Msg.SCANOUT, 'good SCANOUT', 0, 30_000);
  const stuck: TestClient[] = [];
  for (let i = 0; i < CLIENTS; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, CLIENTS - i) }, (_, k) =>
      TestClient.open(url, { localAddress: `127.0.0.${2 + Math.floor((i + k) / 20)}` })));
    for (const c of batch) {
      c.attach('gvt-1');
      c.socket.pause();
      c.ws.on('error', () => {});
    }
    stuck.push(...batch);
  }
  const t0 = Date.now();
  let fresh = Number.NaN;
  let goodMsgs = good.messages.length;
  const goodRate: number[] = [];
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(1000);
    goodRate.push(good.messages.length - goodMsgs);
    goodMsgs = good.messages.length;
    if (Number.isNaN(fresh) && Date.now() - t0 > 3000) {
      const f0 = Date.now();
      const f = await TestClient.open(url);
      f.attach('gvt-1');
      await f.next((m) => m.type === Msg.SCANOUT, 'fresh SCANOUT', 0, 30_000);
      fresh = Date.now() - f0;
      f.close();
    }
  }
  const open = stuck.filter((c) => c.ws.readyState === c.ws.OPEN).length;
  const during = { ...rssMiB(pid), fds: fds(pid) };
  console.log(`${CLIENTS} non-reading viewers for ${SECONDS} s (budget ${MAX_QUEUED} MiB): peak RSS ${peak.toFixed(0)} MiB, ` +
    `now ${during.rss.toFixed(0)} MiB; peak fds ${peakFds}; still connected ${open}; fresh viewer's first SCANOUT after ${fresh} ms; ` +
    `good viewer messages/s ${goodRate.join(',')}`);
  for (const c of stuck) c.ws.terminate();
  await sleep(3000);
  console.log(`after the attack: RSS ${rssMiB(pid).rss.toFixed(0)} MiB, ${fds(pid)} fds`);

  // 3. Idle pre-auth connections from 16 addresses.
  peakFds = 0;
  const idle: Socket[] = [];
  let refused = 0;
  for (let i = 0; i < IDLE; i++) {
    const s = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${30 + (i % 16)}` });
    s.on('error', () => {});
    s.on('close', () => { refused++; });
    idle.push(s);
    if (i % 100 === 99) await sleep(10);
  }
  await sleep(1000);
  const v0 = Date.now();
  const viewer = await TestClient.open(url);
  viewer.attach('gvt-1');
  await viewer.next((m) => m.type === Msg.SCANOUT, 'viewer SCANOUT under idle flood', 0, 30_000);
  console.log(`${IDLE} idle pre-auth sockets: lab fds ${fds(pid)} (peak ${peakFds}), closed by the lab ${refused}; ` +
    `a viewer with the token got its first SCANOUT after ${Date.now() - v0} ms`);
  viewer.close();
  for (const s of idle) s.destroy();
  clearInterval(sampler);
  good.close();
} finally {
  child.kill('SIGINT');
}
