import type { Worker } from 'node:worker_threads';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { RealClock, type Clock } from '../base/Clock.ts';
import type { IDisposable } from '../base/Disposable.ts';
import { LATENCY_CASES, measureAllLatencies, type LatencyStats } from './FlipLatency.ts';
import type { RefreshPolicy } from '../display/VfioDisplay.ts';
import { encodeAttach } from '../protocol/RemoteProtocol.ts';
import { LabServer } from '../server/LabServer.ts';
import { VmRegistry } from '../server/VmRegistry.ts';
import { siblingModule, startModuleWorker } from '../guest/host/startWorker.ts';
import { BenchVm } from './BenchVm.ts';
import type { WireClientMessage } from './WireClient.ts';
import { wallNowMs } from './CpuClock.ts';
import { mean, quantile, spread, type Spread } from './Stats.ts';
import { Ticker } from './Ticker.ts';

export type LatencyCaseName = 'timer30' | 'timer16' | 'event' | 'dirty';

export interface LatencyOptions {
  readonly reps: number;
  /** Measured time per policy per run. */
  readonly windowMs: number;
  /** Time after attaching before measuring (the client receives all three buffers). */
  readonly warmMs?: number;
  /**
   * Flips each policy's path runs, fast (a vblank every millisecond), before its first window: a
   * server runs for hours, so its flip path is measured in the JIT's steady state rather than in
   * its first few hundred runs (interpreted and baseline code). 0 = none.
   */
  readonly warmFlips?: number;
  readonly width?: number;
  readonly height?: number;
  /** Flips for the virtual-time figures (the display client's own bench; 0 = skip). */
  readonly virtualFlips: number;
  readonly log?: (line: string) => void;
}

/** One policy: medians over runs of each run's percentiles (ms). */
export interface PolicyLatency {
  /** flip latched → the display client's onScanout (real time, guest in a worker). */
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  /**
   * flip latched → the server's write of the resulting update's first byte returned: the byte is
   * on the wire (on loopback the kernel has by then queued it on the client's socket).
   */
  readonly wireP50: number;
  readonly wireP99: number;
  readonly wireMean: number;
  /** flip latched → the client read that first byte (a client thread: when it was woken to). */
  readonly readP50: number;
  readonly readP99: number;
  readonly readMean: number;
  /** Flips that reached scanout / flips overtaken by the next one before the client saw them. */
  readonly samples: number;
  readonly dropped: number;
  /**
   * p99 of how late the host's 60 Hz vblank timer fired during the same windows (ms): the
   * scheduling noise every sample above also carries.
   */
  readonly hostTimerLateP99: number;
  readonly spread: {
    readonly p50: Spread; readonly p99: Spread; readonly wireP50: Spread; readonly wireP99: Spread;
    readonly readP50: Spread; readonly readP99: Spread;
  };
  /** The display client's virtual-time figures for the same case (no scheduling noise). */
  readonly virtual?: LatencyStats;
}

export type LatencyResult = Record<LatencyCaseName, PolicyLatency> & {
  /** Event policy refreshing one loop turn after the IRQ (setImmediate) instead of at the end of its task. */
  readonly eventImmediate: PolicyLatency;
  /** The dirty policy read by a client on the server's own thread (how this bench measured before). */
  readonly dirtySameThread: PolicyLatency;
  /** The same way with nothing in front of it: what one send costs on this machine. */
  readonly loopback: LoopbackFloor;
};

/**
 * A bare WebSocket server sending one 19-byte message per 60 Hz tick (a synced flip's size) to
 * the same kind of client thread, in the same run: send() called → its write returned, and →
 * the client thread read it (ms, p50/p99).
 */
export interface LoopbackFloor {
  readonly writtenP50: number;
  readonly writtenP99: number;
  readonly readP50: number;
  readonly readP99: number;
  readonly samples: number;
}

interface Case {
  readonly name: LatencyCaseName | 'eventImmediate' | 'dirtySameThread';
  readonly policy: RefreshPolicy;
  readonly intervalMs: number;
  readonly clock: () => Clock;
  /**
   * Where the WebSocket client runs: its own thread (a viewer is another process: it reads when
   * the kernel delivers the bytes), or the server's thread (it reads only once the server's event
   * loop comes round to its socket, after whatever else that turn does).
   */
  readonly client: 'thread' | 'same-thread';
}

/** RealClock, except that "at the end of this task" is the next turn of the event loop. */
class ImmediateClock extends RealClock {
  public override atEndOfTask(fn: () => void): void {
    setImmediate(fn);
  }
}

const CASES: readonly Case[] = [
  ...(Object.keys(LATENCY_CASES) as LatencyCaseName[]).map((name) => ({
    name, policy: LATENCY_CASES[name].policy, intervalMs: LATENCY_CASES[name].intervalMs, clock: () => new RealClock(),
    client: 'thread' as const,
  })),
  { name: 'eventImmediate', policy: 'event', intervalMs: 16, clock: () => new ImmediateClock(), client: 'thread' },
  { name: 'dirtySameThread', policy: 'dirty', intervalMs: 16, clock: () => new RealClock(), client: 'same-thread' },
];

interface WindowRun {
  scan: number[];
  /** Latch → the server's write returned / → the client read. */
  wire: number[];
  read: number[];
  dropped: number;
  /** Lateness of the vblank timer's ticks in the window. */
  timerLate: number[];
}

/** Where the vblank ticker reports its lateness while a window measures (undefined otherwise). */
interface LateSink { list: number[] | undefined }

/**
 * Section 3, latency in real time: one guest in a worker flips between three buffers on a random
 * half of its 60 Hz vblanks; for each refresh policy in turn, our display client (RealClock) shows
 * it and the lab server mirrors it to a local WebSocket client. A sample is the time from the
 * vblank that latched a flip to the client's onScanout, and to the first byte of the update read
 * from the socket. Policies take turns within each run, so every run compares them under the same
 * conditions.
 */
export async function runLatencyBench(o: LatencyOptions): Promise<LatencyResult> {
  const vm = await BenchVm.boot({
    name: 'latency', width: o.width ?? 1024, height: o.height ?? 768, buffers: 3, everyVblank: false, seed: 7,
  });
  const loopback = await measureLoopback(o.reps * 60);
  const sink: LateSink = { list: undefined };
  const vblanks = new Ticker(1000 / 60, (t) => {
    vm.vblank();
    sink.list?.push(t.started - t.scheduled);
  }).start();
  const vms = new VmRegistry();
  const server = await LabServer.start({ vms, port: 0, statsIntervalMs: 0, heartbeatMs: 0, assets: new Map() });
  const runs = new Map<string, WindowRun[]>(CASES.map((c) => [c.name, []]));
  try {
    for (let r = 0; r < o.reps; r++) {
      for (const c of CASES) {
        o.log?.(`  latency run ${r + 1}/${o.reps}: ${c.name}`);
        runs.get(c.name)!.push(await measureWindow(vm, vms, server, c, r, o, sink));
      }
    }
  } finally {
    vblanks.dispose();
    await server.close();
    vm.dispose();
  }
  const virtual = o.virtualFlips > 0 ? measureAllLatencies(o.virtualFlips) : undefined;
  const out: Record<string, PolicyLatency> = {};
  for (const c of CASES) {
    const v = c.name === 'eventImmediate' || c.name === 'dirtySameThread' ? undefined : virtual?.[c.name];
    out[c.name] = summarize(runs.get(c.name)!, v);
  }
  return { ...out, loopback } as LatencyResult;
}

function summarize(ws: WindowRun[], virtual: LatencyStats | undefined): PolicyLatency {
  const q = (f: (w: WindowRun) => number): Spread => spread(ws.map(f), 3);
  const p50 = q((w) => quantile(w.scan, 0.5));
  const p99 = q((w) => quantile(w.scan, 0.99));
  const wp50 = q((w) => quantile(w.wire, 0.5));
  const wp99 = q((w) => quantile(w.wire, 0.99));
  const rp50 = q((w) => quantile(w.read, 0.5));
  const rp99 = q((w) => quantile(w.read, 0.99));
  return {
    p50: p50.median, p99: p99.median, mean: q((w) => mean(w.scan)).median,
    wireP50: wp50.median, wireP99: wp99.median, wireMean: q((w) => mean(w.wire)).median,
    readP50: rp50.median, readP99: rp99.median, readMean: q((w) => mean(w.read)).median,
    samples: ws.reduce((s, w) => s + w.scan.length, 0),
    dropped: ws.reduce((s, w) => s + w.dropped, 0),
    hostTimerLateP99: q((w) => quantile(w.timerLate, 0.99)).median,
    spread: { p50, p99, wireP50: wp50, wireP99: wp99, readP50: rp50, readP99: rp99 },
    ...(virtual ? { virtual } : {}),
  };
}

async function measureWindow(vm: BenchVm, vms: VmRegistry, server: LabServer, c: Case, rep: number,
  o: LatencyOptions, sink: LateSink): Promise<WindowRun> {
  const display = vm.createDisplay({ policy: c.policy, intervalMs: c.intervalMs, clock: c.clock() });
  display.start();
  if (display.policy !== c.policy) throw new Error(`latency: ${c.policy} fell back to ${display.policy}`);
  const name = `lat-${c.name}-${rep}`;
  vms.add({ name, kind: 'gvt', display });
  const run: WindowRun = { scan: [], wire: [], read: [], dropped: 0, timerLate: [] };
  let measuring = false;
  let scanPending: number | undefined;
  // Latches and socket reads in the window, on performance.now()'s clock; matched at the end: a
  // read answers the newest latch before it that no read answered yet.
  const latches: number[] = [];
  const reads: number[] = [];
  const writes: number[] = [];
  const sub = display.console.onScanout(() => {
    if (!measuring || scanPending === undefined) return;
    run.scan.push(wallNowMs() - scanPending);
    scanPending = undefined;
  });
  vm.onLatch = (t) => {
    if (!measuring) return;
    if (scanPending !== undefined) run.dropped++;
    scanPending = t;
    latches.push(t);
  };
  // Nothing else is sent to the client (no STATS, no heartbeat, no EVENTs), so each read after a
  // latch belongs to a display update.
  const tap = new WriteTap((t) => {
    if (measuring) writes.push(t);
  });
  const client = await openClient(c.client, `ws://127.0.0.1:${server.port}/ws?stats=0`, name, (t) => {
    if (measuring) reads.push(t);
  }).finally(() => tap.stopWatching());
  try {
    if (rep === 0 && (o.warmFlips ?? 0) > 0) {
      // Beside the 60 Hz vblanks; nothing is measured while it runs.
      const fast = new Ticker(1, () => vm.vblank()).start();
      const until = vm.latches + o.warmFlips!;
      for (let t = 0; vm.latches < until && t < SAMPLE_GUARD_MS; t += 10) await sleep(10);
      fast.dispose();
    }
    await sleep(o.warmMs ?? 700);
    measuring = true;
    sink.list = run.timerLate;
    await sleep(o.windowMs);
    // A window ends after its time AND its first samples: on a loaded machine (the tiny test run)
    // a short window may otherwise close before one flip made it through.
    for (let t = 0; (run.scan.length === 0 || reads.length === 0 || writes.length === 0) && t < SAMPLE_GUARD_MS; t += 10) {
      await sleep(10);
    }
    // The thread's last reads are posted after they happened: let them arrive.
    await sleep(20);
    measuring = false;
    sink.list = undefined;
  } finally {
    vm.onLatch = undefined;
    sub.dispose();
    await client.close();
    vms.remove(name);
    display.dispose();
  }
  run.wire = matchReads(latches, writes);
  run.read = matchReads(latches, reads);
  return run;
}

/**
 * Times when the server's writes to the next socket it accepts returned with nothing left queued
 * (the bytes went to the kernel in that call), on performance.now()'s clock. The socket is found
 * through Node's `net.server.socket` diagnostics channel and its own write/uncork are wrapped:
 * nothing in the server changes to be measured.
 */
class WriteTap {
  private _watching = true;
  private readonly _onSocket = (m: unknown): void => {
    if (!this._watching) return;
    this._watching = false;
    this.stopWatching();
    const socket = (m as { socket: Socket }).socket;
    const onWritten = this._onWritten;
    const drained = (): boolean => socket.writableCorked === 0 && socket.writableLength === 0;
    const write = socket.write;
    const uncork = socket.uncork;
    socket.write = function (this: Socket, ...a: unknown[]): boolean {
      const r = (write as (...x: unknown[]) => boolean).apply(this, a);
      if (drained()) onWritten(wallNowMs());
      return r;
    } as Socket['write'];
    socket.uncork = function (this: Socket): void {
      uncork.call(this);
      if (drained()) onWritten(wallNowMs());
    };
  };

  public constructor(private readonly _onWritten: (t: number) => void) {
    subscribe('net.server.socket', this._onSocket);
  }

  public stopWatching(): void {
    unsubscribe('net.server.socket', this._onSocket);
  }
}

/** The floor under the wire and read figures: see LoopbackFloor. */
async function measureLoopback(samples: number): Promise<LoopbackFloor> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', () => resolve());
    wss.once('error', reject);
  });
  const sends: number[] = [];
  const writes: number[] = [];
  const reads: number[] = [];
  let measuring = false;
  const tap = new WriteTap((t) => { if (measuring) writes.push(t); });
  const peer = new Promise<WebSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
  const port = (wss.address() as { port: number }).port;
  const client = await openClient('thread', `ws://127.0.0.1:${port}/`, 'floor', (t) => {
    if (measuring) reads.push(t);
  }).finally(() => tap.stopWatching());
  const ws = await peer;
  const msg = new Uint8Array(19);
  try {
    measuring = true;
    await new Promise<void>((resolve) => {
      const ticker = new Ticker(1000 / 60, () => {
        if (sends.length >= samples) {
          ticker.dispose();
          resolve();
          return;
        }
        sends.push(wallNowMs());
        ws.send(msg);
      }).start();
    });
    for (let t = 0; reads.length < sends.length && t < 1000; t += 10) await sleep(10);
    measuring = false;
  } finally {
    await client.close();
    wss.close();
  }
  const written = matchReads(sends, writes);
  const read = matchReads(sends, reads);
  return {
    writtenP50: quantile(written, 0.5), writtenP99: quantile(written, 0.99),
    readP50: quantile(read, 0.5), readP99: quantile(read, 0.99), samples: read.length,
  };
}

/** For each read, the time since the newest latch before it that no earlier read answered. */
export function matchReads(latches: readonly number[], reads: readonly number[]): number[] {
  const out: number[] = [];
  const r = [...reads].sort((a, b) => a - b);
  let li = 0;
  let pending: number | undefined;
  for (const t of r) {
    while (li < latches.length && latches[li]! <= t) pending = latches[li++]!;
    if (pending === undefined) continue;
    out.push(t - pending);
    pending = undefined;
  }
  return out;
}

interface WireClientHandle {
  close(): Promise<void>;
}

/** A client attached to `vm` that calls `onRead` (performance.now() clock) at every socket read. */
async function openClient(where: 'thread' | 'same-thread', url: string, vm: string,
  onRead: (t: number) => void): Promise<WireClientHandle> {
  if (where === 'same-thread') {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = (ws as unknown as { _socket: NodeJS.EventEmitter })._socket;
    socket.on('data', () => onRead(wallNowMs()));
    ws.send(encodeAttach(vm));
    return { close: async () => { ws.terminate(); } };
  }
  // The thread reports process.hrtime; performance.now() is the same clock from another origin.
  const offset = Number(process.hrtime.bigint()) / 1e6 - wallNowMs();
  const worker: Worker = startModuleWorker(siblingModule('./WireClient.ts', import.meta.url), { workerData: { url, vm } });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: WireClientMessage) => {
      if (m === 'open') resolve();
      else onRead(m - offset);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`latency: the wire client exited (${code})`)));
  });
  return {
    close: async () => {
      worker.postMessage('close');
      await worker.terminate();
    },
  };
}

/** How long a window may wait for its first sample (a guard: a broken path still ends). */
const SAMPLE_GUARD_MS = 60_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export const LATENCY_CASE_NAMES: readonly LatencyCaseName[] = ['timer30', 'timer16', 'event', 'dirty'];
