import type { Worker } from 'node:worker_threads';
import { RealClock, type Clock } from '../../base/Clock.ts';
import { Disposable, type IDisposable } from '../../base/Disposable.ts';
import { Emitter } from '../../base/Emitter.ts';
import type { DirtyLog } from '../../gpu/DirtyLog.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import { driverKinds } from '../os/Drivers.ts';
import type { GuestStatus } from '../os/GuestOs.ts';
import { charKey, KEY } from '../os/Evdev.ts';
import { Ctl, GuestChannel, GuestState, InputType, St } from './GuestChannel.ts';
import type { GuestBootData } from './GuestRuntime.ts';
import { HostPort, type MmioTarget } from './HostPort.ts';
import { startWorker } from './startWorker.ts';

export interface VmOptions {
  /** Device kind; selects the guest's display driver ('gvt', 'bochs'). */
  readonly kind: string;
  readonly memory: GuestMemory;
  /** The dirty-page log the guest marks on every pixel write. */
  readonly dirtyLog?: DirtyLog;
  /** The mediator's register window for this VM. */
  readonly mmio: MmioTarget;
  readonly name?: string;
  /** Passed to the guest driver (e.g. VRAM placement for bochs). */
  readonly driverOptions?: Readonly<Record<string, string | number | boolean>>;
  /** Run this module's `main(ctx)` as the guest instead of the guest OS (tests). */
  readonly program?: URL;
  /** Timers for the watchdog and timeouts (default real time). */
  readonly clock?: Clock;
  /** A running guest with no heartbeat for this long is declared hung (default 5000 ms). */
  readonly watchdogMs?: number;
  /** Time allowed from worker start to the guest's first sign of life (default 30000 ms). */
  readonly startTimeoutMs?: number;
  /** Register ring slots (power of two, default 4096). */
  readonly ringSlots?: number;
  /** Input ring slots (power of two, default 256). */
  readonly inputSlots?: number;
  /** Low pages the guest kernel keeps for itself (default 256 = 1 MiB). */
  readonly reservedPages?: number;
  /** Worker heap limit in MiB (default 256): a runaway guest dies alone. */
  readonly maxHeapMb?: number;
  /** Added to the guest's wall clock (ms), e.g. to pin the session clock in demos. */
  readonly clockOffsetMs?: number;
}

export type VmState =
  'created' | 'booting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'hung' | 'destroyed';

export interface VmExit {
  readonly reason: 'halted' | 'exited' | 'crashed' | 'hung' | 'host-error' | 'destroyed';
  readonly message?: string;
}

/** The guest's published status plus what the host knows about it. */
export interface VmStatus extends GuestStatus {
  readonly state: VmState;
  readonly heartbeat: number;
  readonly vblanksDelivered: number;
  readonly vblankAck: number;
  readonly writesApplied: number;
  readonly readsAnswered: number;
  readonly inputDropped: number;
}

export type PointerEvent =
  | { readonly dx: number; readonly dy: number }
  | { readonly x: number; readonly y: number };

type WaitAsyncResult = { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number): WaitAsyncResult;
}).waitAsync.bind(Atomics);

const TILINGS = ['linear', 'x', 'y'] as const;
/** Host-side input backlog cap (events), beyond which input is dropped. */
const MAX_INPUT_BACKLOG = 16384;
let vmCounter = 0;

function clampAbs(v: number): number {
  return Math.max(0, Math.min(0x7fff, v | 0));
}

/**
 * A VM: one guest in its own worker thread. The guest sees only its memory, its register window
 * (writes applied to `mmio` in order, reads answered synchronously), a vblank interrupt
 * (`vblank()`) and an input device (evdev keys, relative/absolute pointer). A guest that throws,
 * exits, runs out of heap or stops sending heartbeats is terminated and reported via `onExit`;
 * nothing it does reaches the host beyond that.
 */
export class Vm extends Disposable {
  public readonly name: string;
  public readonly kind: string;
  public readonly memory: GuestMemory;
  public readonly dirtyLog: DirtyLog | undefined;
  /** The guest's serial console (kept, last 500 lines). */
  public readonly logLines: string[] = [];

  private readonly _opts: VmOptions;
  private readonly _clock: Clock;
  private readonly _channel: GuestChannel;
  private readonly _host: HostPort;
  private _worker: Worker | undefined;
  private _state: VmState = 'created';
  private _exit: VmExit | undefined;
  private _pumping = false;
  private _statusSeq = -1;
  private _lastGuestState = -1;
  private _vblanks = 0;
  private _beat = -1;
  private _beatAt = 0;
  private _startedAt = 0;
  private _lastCheck = 0;
  private _checkEvery = 1000;
  private _watchdog: IDisposable | undefined;
  private readonly _backlog: Array<[InputType, number, number]> = [];
  private _backlogDropped = 0;
  private _exitWaiters: Array<(e: VmExit) => void> = [];

  private readonly _onExit = this._register(new Emitter<VmExit>());
  /** The guest stopped for good (halted, crashed, hung, destroyed). Fires once. */
  public readonly onExit = this._onExit.event;
  private readonly _onLog = this._register(new Emitter<string>());
  /** A line on the guest's serial console. */
  public readonly onLog = this._onLog.event;
  private readonly _onStatus = this._register(new Emitter<VmStatus>());
  /** The guest published new status (it drew, flipped, switched VT…). */
  public readonly onStatus = this._onStatus.event;

  /** Throws RangeError for an unknown device kind or a bad ring size. */
  public constructor(opts: VmOptions) {
    super();
    if (!opts.program && !driverKinds().includes(opts.kind)) {
      const have = driverKinds().join(', ');
      throw new RangeError(`no guest driver for device kind '${opts.kind}' (have: ${have})`);
    }
    this._opts = opts;
    this.name = opts.name ?? `vm${++vmCounter}`;
    this.kind = opts.kind;
    this.memory = opts.memory;
    this.dirtyLog = opts.dirtyLog;
    this._clock = opts.clock ?? new RealClock();
    this._channel = new GuestChannel({ regSlots: opts.ringSlots ?? 4096, inputSlots: opts.inputSlots ?? 256 });
    this._host = new HostPort(this._channel, opts.mmio);
  }

  public get state(): VmState {
    return this._state;
  }

  /** Why the guest stopped, once it has. */
  public get exit(): VmExit | undefined {
    return this._exit;
  }

  public get running(): boolean {
    return this._state === 'booting' || this._state === 'running';
  }

  public get status(): VmStatus {
    const ch = this._channel;
    return {
      state: this._state,
      booted: ch.status(St.BOOTED) === 1,
      activeVt: ch.status(St.ACTIVE_VT),
      vblanks: ch.status(St.VBLANKS),
      flips: ch.status(St.FLIPS),
      framesRendered: ch.status(St.FRAMES),
      sessionRunning: ch.status(St.SESSION) === 1,
      animating: ch.status(St.ANIMATING) === 1,
      width: ch.status(St.WIDTH),
      height: ch.status(St.HEIGHT),
      format: ch.status(St.FORMAT) >>> 0,
      tiling: TILINGS[ch.status(St.TILING)] ?? 'linear',
      frontId: ch.status(St.FRONT_ID),
      content: ch.status(St.CONTENT),
      heartbeat: ch.load(Ctl.HEARTBEAT),
      vblanksDelivered: this._vblanks,
      vblankAck: ch.load(Ctl.VBLANK_ACK),
      writesApplied: this._host.writesApplied,
      readsAnswered: this._host.readsAnswered,
      inputDropped: ch.load(Ctl.INPUT_DROPPED) + this._backlogDropped,
    };
  }

  /** Start the guest; resolves once it is up (booted to a prompt), rejects if it dies first. */
  public boot(): Promise<void> {
    if (this._state !== 'created') {
      return Promise.reject(new Error(`${this.name}: cannot boot in state ${this._state}`));
    }
    this._state = 'booting';
    const data: GuestBootData = {
      channel: this._channel.buffer,
      memory: this.memory.buffer,
      dirty: this.dirtyLog?.buffer,
      dirtyPages: this.dirtyLog?.pageCount ?? 0,
      kind: this.kind,
      reservedPages: this._opts.reservedPages ?? 256,
      driverOptions: this._opts.driverOptions ?? {},
      program: this._opts.program?.href,
      clockOffsetMs: this._opts.clockOffsetMs ?? 0,
    };
    let w: Worker;
    try {
      w = startWorker('./GuestWorker.ts', {
        workerData: data,
        name: `guest-${this.name}`,
        resourceLimits: { maxOldGenerationSizeMb: this._opts.maxHeapMb ?? 256 },
        stdout: false,
        stderr: false,
      });
    } catch (err) {
      this._finish('crashed', `cannot start worker: ${String(err)}`);
      return Promise.reject(new Error(`${this.name}: cannot start worker: ${String(err)}`));
    }
    this._worker = w;
    w.on('message', (m: unknown) => {
      const msg = m as { type?: unknown; line?: unknown } | null;
      if (msg && typeof msg === 'object' && msg.type === 'log') this._log(String(msg.line));
    });
    w.on('error', (err: Error) => {
      this._finish('crashed', `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`);
    });
    w.on('exit', (code) => {
      const halted = this._channel.load(Ctl.STATE) === GuestState.HALTED;
      if (this._state === 'stopping' || halted) this._finish(this._state === 'stopping' ? 'halted' : 'exited');
      else this._finish('exited', `worker exited with code ${code}`);
    });
    this._startedAt = this._clock.now();
    this._beatAt = this._startedAt;
    this._lastCheck = this._startedAt;
    const wd = this._opts.watchdogMs ?? 5000;
    this._checkEvery = Math.max(20, Math.min(1000, wd / 4));
    this._watchdog = this._clock.setInterval(() => this._checkWatchdog(), this._checkEvery);
    this._pumping = true;
    this._arm();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => { sub.dispose(); ex.dispose(); };
      const check = (): void => {
        const st = this._channel.load(Ctl.STATE);
        if (st === GuestState.RUNNING || st === GuestState.HALTED) {
          done();
          resolve();
        }
      };
      const sub = this.onStatus(check);
      const ex = this.onExit((e) => {
        done();
        reject(new Error(`${this.name}: ${e.reason} during boot${e.message ? `: ${e.message}` : ''}`));
      });
      check();
    });
  }

  /** Ask the guest to halt; terminate it after `graceMs` if it does not. */
  public stop(graceMs = 2000): Promise<VmExit> {
    if (this._exit) return Promise.resolve(this._exit);
    if (this._state === 'created') {
      this._finish('halted');
      return Promise.resolve(this._exit!);
    }
    this._state = 'stopping';
    this._host.requestStop();
    const p = new Promise<VmExit>((resolve) => this._exitWaiters.push(resolve));
    const t = this._clock.setTimeout(() => this._finish('halted', 'terminated after grace period'), graceMs);
    return p.finally(() => t.dispose());
  }

  /** Terminate at once and release everything. */
  public override dispose(): void {
    if (!this._exit) this._finish('destroyed');
    super.dispose();
  }

  // ---- interrupts and input ----

  /** A vblank: apply queued register writes, latch the device, interrupt the guest. */
  public vblank(): void {
    if (!this.running) return;
    try {
      this._host.vblank();
    } catch (err) {
      this._finish('host-error', `device vblank: ${String(err)}`);
      return;
    }
    this._vblanks++;
    this._flushInput();
  }

  /** Call vblank() every `intervalMs` on the VM's clock until disposed (or the VM is). */
  public startVblank(intervalMs = 16): IDisposable {
    return this._register(this._clock.setInterval(() => this.vblank(), intervalMs));
  }

  /** An evdev key (or BTN_*) event. */
  public sendKey(code: number, down: boolean): void {
    this._queueInput(InputType.KEY, code, down ? 1 : 0);
  }

  public tapKey(code: number): void {
    this.sendKey(code, true);
    this.sendKey(code, false);
  }

  /** Press keys in order, release in reverse (e.g. KEY.LEFTCTRL, KEY.LEFTALT, KEY.F2). */
  public sendChord(...codes: number[]): void {
    for (const c of codes) this.sendKey(c, true);
    for (const c of codes.slice().reverse()) this.sendKey(c, false);
  }

  /** Ctrl+Alt+Fn. */
  public switchVt(n: number): void {
    this.sendChord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1 + n - 1);
  }

  /** Type text as US-layout key presses ('\n' = Enter). Throws RangeError for untypable text. */
  public typeText(text: string): void {
    const keys = [...text].map((ch) => {
      const k = charKey(ch);
      if (!k) throw new RangeError(`cannot type ${JSON.stringify(ch)} on a US keyboard`);
      return k;
    });
    for (const k of keys) {
      if (k.shift) this.sendKey(KEY.LEFTSHIFT, true);
      this.tapKey(k.code);
      if (k.shift) this.sendKey(KEY.LEFTSHIFT, false);
    }
  }

  /** Relative motion {dx, dy}, or an absolute position {x, y} in 0..32767. */
  public sendPointer(ev: PointerEvent): void {
    if ('dx' in ev) this._queueInput(InputType.REL, ev.dx | 0, ev.dy | 0);
    else this._queueInput(InputType.ABS, clampAbs(ev.x), clampAbs(ev.y));
  }

  // ---- observation ----

  /** Resolves with the status once `pred` holds; rejects on timeout or guest exit. */
  public waitFor(pred: (s: VmStatus) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<VmStatus> {
    return this._waitUntil(() => {
      const s = this.status;
      return pred(s) ? s : undefined;
    }, timeoutMs, what, () => JSON.stringify(this.status));
  }

  /** Resolves once the guest has latched at least `count` primary-plane flips. */
  public waitForFlips(count: number, timeoutMs = 10_000): Promise<VmStatus> {
    return this.waitFor((s) => s.flips >= count, timeoutMs, `${count} flips`);
  }

  /** Resolves with the first serial-console line (kept or future) that matches. */
  public waitForLog(match: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const test = (l: string): boolean => (typeof match === 'string' ? l.includes(match) : match.test(l));
    let seen = 0;
    const probe = (): string | undefined => {
      const hit = this.logLines.slice(seen).find(test);
      seen = this.logLines.length;
      return hit;
    };
    const detail = (): string => `log:\n${this.logLines.slice(-10).join('\n')}`;
    return this._waitUntil(probe, timeoutMs, `log ${String(match)}`, detail, this.onLog);
  }

  // ---- internals ----

  private _waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string, detail: () => string,
    also?: (listener: () => void) => IDisposable): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = probe();
      if (first !== undefined) {
        resolve(first);
        return;
      }
      if (this._exit) {
        reject(new Error(`${this.name}: waiting for ${what}, but the guest ${this._exit.reason}`));
        return;
      }
      const cleanup = (): void => { sub.dispose(); sub2?.dispose(); ex.dispose(); timer.dispose(); };
      const check = (): void => {
        const v = probe();
        if (v !== undefined) { cleanup(); resolve(v); }
      };
      const sub = this.onStatus(check);
      const sub2 = also?.(check);
      const ex = this.onExit((e) => {
        cleanup();
        const why = `${e.reason}${e.message ? `: ${e.message}` : ''}`;
        reject(new Error(`${this.name}: waiting for ${what}, but the guest ${why}`));
      });
      const timer = this._clock.setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; ${detail()}`));
      }, timeoutMs);
    });
  }

  /** Service the guest whenever it rings: apply writes, answer reads, report status. */
  private readonly _arm = (): void => {
    if (!this._pumping) return;
    const bell = this._channel.load(Ctl.G2H_BELL);
    this._service();
    if (!this._pumping) return;
    const r = waitAsync(this._channel.ctl, Ctl.G2H_BELL, bell);
    if (r.async) void r.value.then(this._arm);
    else setImmediate(this._arm);
  };

  private _service(): void {
    try {
      this._host.pump();
    } catch (err) {
      this._finish('host-error', `device register access: ${String(err)}`);
      return;
    }
    this._flushInput();
    if (this._state === 'booting' && this._channel.load(Ctl.STATE) === GuestState.RUNNING) {
      this._state = 'running';
    }
    const seq = this._channel.status(St.SEQ);
    const state = this._channel.load(Ctl.STATE);
    if (seq !== this._statusSeq || state !== this._lastGuestState) {
      this._statusSeq = seq;
      this._lastGuestState = state;
      this._onStatus.fire(this.status);
    }
  }

  private _checkWatchdog(): void {
    if (!this.running) return;
    const now = this._clock.now();
    const beat = this._channel.load(Ctl.HEARTBEAT);
    // If our own event loop stalled, the guest may have been waiting on us: do not blame it.
    const stalled = now - this._lastCheck > this._checkEvery * 4;
    this._lastCheck = now;
    if (beat !== this._beat || stalled) {
      this._beat = beat;
      this._beatAt = now;
      return;
    }
    const started = this._channel.load(Ctl.STATE) !== GuestState.STARTING;
    const limit = started ? (this._opts.watchdogMs ?? 5000) : (this._opts.startTimeoutMs ?? 30_000);
    if (now - this._beatAt > limit) {
      this._finish('hung', started
        ? `no heartbeat for ${Math.round(now - this._beatAt)} ms`
        : `did not start within ${limit} ms`);
    }
  }

  private _queueInput(type: InputType, a: number, b: number): void {
    if (this._exit) return;
    if (this._backlog.length >= MAX_INPUT_BACKLOG) {
      this._backlogDropped++;
      return;
    }
    this._backlog.push([type, a, b]);
    this._flushInput();
  }

  private _flushInput(): void {
    if (this._state === 'created' || this._exit) return;
    let n = 0;
    while (n < this._backlog.length && this._channel.input.size < this._channel.input.capacity) {
      const [t, a, b] = this._backlog[n]!;
      if (!this._host.input(t, a, b)) break;
      n++;
    }
    if (n > 0) this._backlog.splice(0, n);
  }

  private _log(line: string): void {
    this.logLines.push(line);
    if (this.logLines.length > 500) this.logLines.shift();
    this._onLog.fire(line);
  }

  private _finish(reason: VmExit['reason'], message?: string): void {
    if (this._exit) return;
    const exit: VmExit = message === undefined ? { reason } : { reason, message };
    this._exit = exit;
    this._state = reason === 'halted' || reason === 'exited' ? 'stopped'
      : reason === 'crashed' || reason === 'host-error' ? 'crashed'
        : reason === 'hung' ? 'hung' : 'destroyed';
    this._pumping = false;
    this._watchdog?.dispose();
    this._watchdog = undefined;
    this._host.requestStop();
    // Resolve our own pending waitAsync so nothing is left waiting on this channel.
    Atomics.notify(this._channel.ctl, Ctl.G2H_BELL);
    const w = this._worker;
    this._worker = undefined;
    if (w) void w.terminate().catch(() => {});
    this._backlog.length = 0;
    for (const r of this._exitWaiters.splice(0)) r(exit);
    this._onExit.fire(exit);
  }
}
