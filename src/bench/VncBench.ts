/**
 * Our VNC server against QEMU's own: one real QEMU VM (TCG, the test guest's VGA text console)
 * with `-vnc` beside `-display dbus,p2p=yes`; our lab (D-Bus listener → RFB server) attached to
 * the same console. The same guest activity (keys through QMP send-key, so neither server's input
 * path is involved) is watched by the same RFB client through one server at a time, and the
 * D-Bus gateway is measured on its own with a WebSocket client.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Qmp } from '../qemu/Qmp.ts';
import { Lab } from '../lab/Lab.ts';
import { parseQemuSpec } from '../qemu/QemuSession.ts';
import { QemuMachine } from '../qemu/QemuMachine.ts';
import type { QemuView } from '../qemu/QemuView.ts';
import { QemuProcess, testGuest, waitFor } from '../testkit/node/QemuProcess.ts';
import { RfbTestClient, type TestUpdate } from '../testkit/node/RfbTestClient.ts';
import { TestClient } from '../testkit/node/TestClient.ts';
import { quantile, round } from './Stats.ts';

export type { ActivityFigures, GatewayFigures, VncActivity, VncBenchOptions, VncBenchResult, VncServerName, WatchPath } from './VncFigures.ts';
export { VNC_SIZES } from './VncFigures.ts';
import type { ActivityFigures, GatewayFigures, VncActivity, VncBenchOptions, VncBenchResult, WatchPath } from './VncFigures.ts';

const ENCODINGS = [['ZRLE', 16], ['Raw', 0]] as const;

/** /proc/PID/stat utime+stime in ms. */
function procCpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are 12 and 13 after the name; USER_HZ is 100 on Linux.
  return (Number(f[11]) + Number(f[12])) * 10;
}

function ownCpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

function pct(xs: readonly number[], q: number): number {
  return xs.length === 0 ? NaN : round(quantile(xs, q), 2);
}

/** send-key qcodes for one character of the commands we type. */
function qcodes(ch: string): string[] {
  if (ch === ' ') return ['spc'];
  if (ch === '#') return ['shift', '3'];
  if (ch === '\n') return ['ret'];
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  throw new Error(`no qcode for ${JSON.stringify(ch)}`);
}

/** An RFB client polling incremental updates back to back, timing each one. */
class Poller {
  public lastAt = performance.now();
  /** Arrival time of every update. */
  public readonly times: number[] = [];
  public updates = 0;
  public bytes = 0;
  public error: Error | undefined;
  private _stopped = false;
  private _watch: { snap: Uint32Array; done: (t: number) => void } | undefined;
  private readonly _loop: Promise<void>;

  public constructor(public readonly client: RfbTestClient) {
    this._loop = this._run();
  }

  /** Resolves with the time of the first update after which the frame differs from now. */
  public changed(): { at: Promise<number> } {
    const snap = this.client.fb.slice();
    return {
      at: new Promise((done, fail) => {
        const t = setTimeout(() => fail(new Error(`no change on the client's frame within 20 s (${this.updates} updates so far)`)), 20_000);
        this._watch = { snap, done: (at) => { clearTimeout(t); done(at); } };
      }),
    };
  }

  public async stop(): Promise<void> {
    this._stopped = true;
    this.client.close();
    await this._loop;
  }

  private async _run(): Promise<void> {
    try {
      while (!this._stopped) {
        this.client.request(true);
        const u = await this.client.nextUpdate();
        const t = performance.now();
        this.lastAt = t;
        this.times.push(t);
        this.updates++;
        this.bytes += u.bytes;
        const w = this._watch;
        if (w !== undefined && this._differs(u, w.snap)) {
          this._watch = undefined;
          w.done(t);
        }
      }
    } catch (e) {
      if (!this._stopped) this.error = e as Error;
    }
  }

  private _differs(u: TestUpdate, snap: Uint32Array): boolean {
    const c = this.client;
    if (snap.length !== c.fb.length) return true;
    for (const r of u.rects) {
      for (let y = r.y; y < r.y + r.h && y < c.height; y++) {
        for (let x = r.x; x < r.x + r.w && x < c.width; x++) if (c.fb[y * c.width + x] !== snap[y * c.width + x]) return true;
      }
    }
    return false;
  }
}

export async function runVncBench(o: VncBenchOptions): Promise<VncBenchResult> {
  testGuest();
  // A second QMP socket for the bench's keys: QEMU's QMP serves one client per socket, and the
  // first is the lab's.
  const dir = mkdtempSync(join(tmpdir(), 'vgpu-vncbench-'));
  const keysQmp = join(dir, 'keys.sock');
  const q = QemuProcess.start({ mode: 'p2p', extraArgs: ['-vnc', '127.0.0.1:50,to=99', '-qmp', `unix:${keysQmp},server=on,wait=off`] });
  let machine: QemuMachine | undefined;
  let lab: Lab | undefined;
  let qmp: Qmp | undefined;
  try {
    await q.waitSerial('GUEST-READY');
    await waitFor(async () => (await q.vgaText()).includes('guest#'), 'the shell prompt');
    qmp = await Qmp.connect(keysQmp);
    const qemuPort = Number((await qmp.execute('query-vnc') as { service?: string }).service);
    machine = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1', {});
    const view = machine.views[0]!;
    lab = await Lab.start({
      vms: [], extraVms: machine.views, refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0,
      vnc: { listen: '127.0.0.1', port: 0, security: { type: 'none' } }, log: () => {},
    });
    const ourPort = lab.vnc!.ports[0]!.port;
    const pid = q.proc.pid!;
    const dbusUpdates: number[] = [];
    view.console.onUpdate(() => dbusUpdates.push(performance.now()));
    const key = async (ch: string): Promise<number> => {
      const t = performance.now();
      await qmp!.execute('send-key', { keys: qcodes(ch).map((k) => ({ type: 'qcode', data: k })) });
      return t;
    };
    const floods = (n: number): number => q.serial().match(new RegExp(`FLOOD-END ${n}(?!\\d)`, 'g'))?.length ?? 0;
    const floodDone = (n: number, before: number): Promise<string> =>
      waitFor(() => (floods(n) > before ? 'done' : undefined), `FLOOD-END ${n}`, 120_000);
    const firstAfter = (t: number): number => {
      const u = dbusUpdates.find((x) => x >= t);
      return u === undefined ? NaN : u - t;
    };
    const quiet = (p: { lastAt: number }): Promise<boolean> =>
      waitFor(() => performance.now() - p.lastAt > o.quietMs || undefined, 'the screen to settle', 120_000);
    /** Type a command's text (untimed): each non-space key waits for its echo. */
    const typeText = async (p: Poller, text: string): Promise<void> => {
      for (const ch of text) {
        if (ch === ' ') {
          await key(ch);
          continue;
        }
        const c = p.changed();
        await key(ch);
        await c.at.catch(() => undefined);
      }
    };

    const figures: ActivityFigures[] = [];
    let width = 0;
    let height = 0;
    for (const [encName, enc] of ENCODINGS) {
      for (const server of ['qemu', 'ours'] as const) {
        o.log(`bench: vnc ${encName} through ${server === 'qemu' ? 'QEMU\'s -vnc' : 'ours'}…`);
        const client = await RfbTestClient.connect(server === 'qemu' ? qemuPort : ourPort);
        // CopyRect offered to both servers (QEMU's sends it only when a display device copies).
        client.setEncodings([enc, 1, -223]);
        client.request(false);
        await client.nextUpdate();
        width = client.width;
        height = client.height;
        const p = new Poller(client);
        await quiet(p);
        const measure = async (activity: VncActivity, events: number, act: () => Promise<{ lat: number[]; keyTimes: number[] }>): Promise<void> => {
          const u0 = p.updates, b0 = p.bytes, c0 = ownCpuMs(), q0 = procCpuMs(pid);
          const { lat, keyTimes } = await act();
          await quiet(p);
          const toDbus = keyTimes.map(firstAfter).filter((x) => !Number.isNaN(x));
          figures.push({
            server, encoding: encName, activity, events, updates: p.updates - u0, bytes: p.bytes - b0,
            latencyMs: { p50: pct(lat, 0.5), p99: pct(lat, 0.99), samples: lat.length },
            keyToDbusUpdateMs: { p50: pct(toDbus, 0.5), p99: pct(toDbus, 0.99) },
            ourProcessCpuMs: round(ownCpuMs() - c0, 1), qemuCpuMs: procCpuMs(pid) - q0,
          });
        };
        // Typing: '#' starts a shell comment, then letters, each timed until its cell shows.
        await typeText(p, '#');
        await quiet(p);
        await measure('type', o.keys, async () => {
          const lat: number[] = [];
          const keyTimes: number[] = [];
          for (let i = 0; i < o.keys; i++) {
            const c = p.changed();
            const t = await key('abcdefghijklmnopqrstuvwxyz'[i % 26]!);
            keyTimes.push(t);
            lat.push((await c.at) - t);
            await quiet(p);
          }
          return { lat, keyTimes };
        });
        await key('\n');
        await quiet(p);
        // Scrolling: `flood N` prints N lines; timed from Enter to the first change.
        await typeText(p, `flood ${o.scrollLines}`);
        await quiet(p);
        await measure('scroll', 1, async () => {
          const before = floods(o.scrollLines);
          const c = p.changed();
          const t = await key('\n');
          const at = await c.at;
          await floodDone(o.scrollLines, before);
          return { lat: [at - t], keyTimes: [t] };
        });
        // A full-screen change: `clear`.
        await typeText(p, 'clear');
        await quiet(p);
        await measure('clear', 1, async () => {
          const c = p.changed();
          const t = await key('\n');
          return { lat: [(await c.at) - t], keyTimes: [t] };
        });
        await p.stop();
      }
    }

    // The browser path (issue 12): the same guest activity watched by one client at a time — the
    // gateway's WebSocket (a browser-style client), or an RFB client polling ZRLE from QEMU's
    // -vnc or from ours (what noVNC does).
    const gateway: GatewayFigures[] = [];
    let shadowBytes = 0;
    // QEMU sends a D-Bus Update on every refresh tick even when nothing changed (the listener
    // cannot tell), so the windows end on the guest's marker plus a fixed settle time.
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, o.quietMs));
    const watchers: Array<{ path: WatchPath; open: () => Promise<{ times: number[]; bytes: () => number; close: () => Promise<void> }> }> = [
      {
        path: 'gateway',
        open: async () => {
          const ws = await TestClient.open(`ws://127.0.0.1:${lab!.server!.port}/ws`);
          const times: number[] = [];
          ws.ws.on('message', () => times.push(performance.now()));
          ws.attach('qemu-1');
          return { times, bytes: () => ws.bytesReceived, close: async () => ws.close() };
        },
      },
      ...(['qemu-vnc', 'our-vnc'] as const).map((path) => ({
        path,
        open: async () => {
          const client = await RfbTestClient.connect(path === 'qemu-vnc' ? qemuPort : ourPort);
          client.setEncodings([16, 1, -223]);
          client.request(false);
          await client.nextUpdate();
          const p = new Poller(client);
          const close = async (): Promise<void> => {
            shadowBytes = Math.max(shadowBytes, lab!.vnc!.stats.shadowBytes);
            await p.stop();
          };
          return { times: p.times, bytes: () => p.bytes, close };
        },
      })),
    ];
    for (const w of watchers) {
      o.log(`bench: vnc — the browser path through ${w.path}…`);
      const watch = await w.open();
      try {
        await settle();
        const run = async (activity: 'print' | 'scroll', lines: number): Promise<void> => {
          const cmd = `flood ${lines}`;
          for (const ch of cmd) {
            const n = dbusUpdates.length;
            await key(ch);
            // A space on a blank cell changes nothing: give it a moment instead of an echo.
            const t = performance.now();
            await waitFor(() => dbusUpdates.length > n || performance.now() - t > (ch === ' ' ? 100 : 5000) || undefined, 'echo', 10_000);
          }
          await settle();
          const s0 = { ...view.listener.stats };
          const u0 = dbusUpdates.length, b0 = watch.bytes(), m0 = watch.times.length;
          const before = floods(lines);
          const t0 = await key('\n');
          await floodDone(lines, before);
          await settle();
          const t1 = performance.now();
          const s1 = view.listener.stats;
          const ups = dbusUpdates.slice(u0).filter((x) => x <= t1);
          const frames = watch.times.slice(m0).filter((x) => x <= t1);
          // Each frame against the last D-Bus Update before it: the Update it carries (idle
          // Updates repaint the same pixels and send nothing, so pairing forward would count waits).
          const lat: number[] = [];
          let j = 0;
          for (const f of frames) {
            while (j + 1 < ups.length && ups[j + 1]! <= f) j++;
            if (ups[j] !== undefined && ups[j]! <= f) lat.push(f - ups[j]!);
          }
          const secs = Math.max(1e-3, (t1 - t0) / 1000);
          const dbusBytes = s1.bytesReceived - s0.bytesReceived;
          const bytes = watch.bytes() - b0;
          gateway.push({
            path: w.path, activity, seconds: round(secs, 3), dbusUpdates: s1.updates - s0.updates, dbusBytes, frames: frames.length, bytes,
            updatesPerSec: round((s1.updates - s0.updates) / secs, 1), dbusBytesPerSec: Math.round(dbusBytes / secs),
            framesPerSec: round(frames.length / secs, 1), bytesPerSec: Math.round(bytes / secs),
            updateToFrameMs: { p50: pct(lat, 0.5), p99: pct(lat, 0.99), samples: lat.length },
          });
        };
        await run('print', 10);
        await run('scroll', o.scrollLines);
      } finally {
        await watch.close();
      }
    }
    const st = lab.vnc!.stats;
    return { width, height, keys: o.keys, scrollLines: o.scrollLines, figures, gateway, shadowBytesCopied: st.shadowBytesCopied, shadowBytes };
  } finally {
    qmp?.close();
    await lab?.stop();
    machine?.dispose();
    await q.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
