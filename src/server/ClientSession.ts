import type { WebSocket } from 'ws';
import {
  Msg, StatusCode, decodeClientMessage, encodeError, encodeHello, encodePong, encodeStatus, isProtocolError,
  type ClientMessage,
} from '../protocol/RemoteProtocol.ts';
import type { ClientStats } from '../protocol/InspectorData.ts';
import type { BudgetAccount, OutputBudget } from './OutputBudget.ts';
import { RateLimit } from './RateLimit.ts';
import { RemoteMirror, type MirrorOptions } from './RemoteMirror.ts';
import type { LabVmStats, VmChannel } from './VmChannel.ts';
import type { LabVm, PointerInput } from './VmRegistry.ts';

/** ERROR frame codes (HTTP-like, so a log reader knows them). */
export const enum ErrorCode {
  BAD_MESSAGE = 400,
  UNKNOWN_VM = 404,
  NOT_ATTACHED = 409,
  TOO_LARGE = 413,
  UNSUPPORTED_FRAME = 415,
  TOO_MANY = 429,
  INTERNAL = 500,
  NOT_SUPPORTED = 501,
}

/** WebSocket close codes the server uses besides the standard ones. */
export const enum CloseCode {
  GOING_AWAY = 1001,
  POLICY = 1008,
  TOO_BIG = 1009,
  INTERNAL = 1011,
  BAD_TOKEN = 4401,
}

/** The largest client message decodeClientMessage accepts. */
export const MAX_CLIENT_MESSAGE = 4096;
/** Protocol errors a client may make in a minute before it is closed (1008). */
export const ERROR_BUDGET = 32;
/** Client messages per second before the client is closed as a flood (1008). */
export const MESSAGE_RATE = 2000;
/**
 * ATTACH and RESIZE per second per client (average, burst): each can make the server resend a
 * whole display or the guest re-mode, so a flood of them is refused with ERROR 429.
 */
export const ATTACH_RATE = { rate: 4, burst: 8 } as const;
export const RESIZE_RATE = { rate: 4, burst: 4 } as const;

export interface SessionOptions extends Omit<MirrorOptions, 'account' | 'left'> {
  /** Send STATS (the server's tick decides when). Default true; `?stats=0` turns it off. */
  readonly stats?: boolean;
  /** The server's global bound on queued output; a client over its share may be dropped. */
  readonly budget?: OutputBudget;
}

/** What a session asks of the server that owns it. */
export interface SessionHost {
  findVm(name: string): LabVm | undefined;
  channelFor(vm: LabVm): VmChannel;
  channelUnused(channel: VmChannel): void;
  helloInfo(session: ClientSession): unknown;
  /** A log line a peer can trigger: rate-limited per `kind`, `noun` names it in the summary. */
  peerLog(kind: string, noun: string, line: () => string): void;
  /** May `vm` take one more `what` now (the per-VM limit over all clients)? */
  vmAllows(vm: LabVm, what: 'attach' | 'resize'): boolean;
}

/**
 * One WebSocket client: decodes and validates its messages, routes input only to the VM it is
 * attached to, and feeds its RemoteMirror. A bad message gets an ERROR frame and changes
 * nothing; too many of them, or a flood, close the socket with 1008 and a reason.
 */
export class ClientSession {
  public readonly id: number;
  public readonly mirror: RemoteMirror;
  public readonly remote: string;
  public readonly openedAt: number;
  public lastPong: number;
  /** Settles when the socket has closed (handshake done or cut). */
  public readonly whenClosed: Promise<void>;
  private readonly _ws: WebSocket;
  private readonly _host: SessionHost;
  private _vm: LabVm | undefined;
  private readonly _keysDown = new Set<number>();
  private _buttons = 0;
  private _lastAbs: { x: number; y: number } | undefined;
  private _errors = 0;
  private _errorWindowStart = 0;
  private _errorWindowCount = 0;
  private _windowStart = 0;
  private _windowCount = 0;
  private _closed = false;
  private _received = 0;
  private _inputs = 0;
  private _lastDrain: number;
  private readonly _statsOn: boolean;
  private readonly _account: BudgetAccount | undefined;
  private readonly _attachLimit: RateLimit;
  private readonly _resizeLimit: RateLimit;
  private _dropReason: string | undefined;
  /** mirror.stats.bytesSent at the last STATS (undefined before the first). */
  private _statsBytesSent: number | undefined;

  public constructor(id: number, ws: WebSocket, remote: string, host: SessionHost, options: SessionOptions) {
    this.id = id;
    this._ws = ws;
    this.remote = remote;
    this._host = host;
    this.openedAt = this.lastPong = this._lastDrain = Date.now();
    this._statsOn = options.stats ?? true;
    this._attachLimit = new RateLimit(ATTACH_RATE.rate, ATTACH_RATE.burst, this.openedAt);
    this._resizeLimit = new RateLimit(RESIZE_RATE.rate, RESIZE_RATE.burst, this.openedAt);
    this._account = options.budget?.register({
      evict: (reason) => this.drop(reason),
      wake: () => this.mirror.pump(),
    });
    this.mirror = new RemoteMirror({
      send: (bytes, done) => {
        ws.send(bytes, { binary: true }, () => {
          this._lastDrain = Date.now();
          done();
        });
      },
    }, { ...options, account: this._account, left: (ch) => host.channelUnused(ch) });
    ws.on('message', (data, isBinary) => this._onMessage(data, isBinary));
    ws.on('pong', () => { this.lastPong = Date.now(); });
    this.whenClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    this.mirror.postControl(encodeHello(host.helloInfo(this)));
  }

  public get vm(): LabVm | undefined {
    return this._vm;
  }

  public get errors(): number {
    return this._errors;
  }

  public get stats(): ClientStats {
    return {
      id: this.id, remote: this.remote, vm: this._vm?.name ?? null, received: this._received, inputs: this._inputs,
      errors: this._errors, keysDown: this._keysDown.size, lastDrainAgeMs: Date.now() - this._lastDrain,
      ...this.mirror.stats,
    };
  }

  /** True when the client takes STATS. */
  public get wantsStats(): boolean {
    return this._statsOn && !this._closed;
  }

  /** Queue a STATS message: the VM's part, this client's counters, the server's load. */
  public postStats(vm: LabVmStats, server: { clients: number; queuedBytes: number }, periodMs: number): void {
    if (!this.wantsStats) return;
    const sent = this.mirror.stats.bytesSent;
    const bytesPerSec = this._statsBytesSent === undefined ? 0 : Math.round(((sent - this._statsBytesSent) * 1000) / periodMs);
    this._statsBytesSent = sent;
    this.mirror.postStats({ t: Date.now(), ...vm, client: { ...this.stats, bytesPerSec }, server });
  }

  public get closed(): boolean {
    return this._closed;
  }

  /** Close the socket with a reason (once; cut to the 123 bytes a close frame can carry). */
  public close(code: number, reason: string): void {
    if (this._closed) return;
    this._ws.close(code, closeReason(reason));
    this.dispose();
  }

  /** Why the server dropped this client (undefined while it is connected or closed normally). */
  public get dropReason(): string | undefined {
    return this._dropReason;
  }

  /**
   * Drop a client that does not read: a close frame would wait behind the bytes it does not
   * read, so the socket is cut at once (freeing its queue) and the reason goes to the log.
   */
  public drop(reason: string): void {
    if (this._closed) return;
    this._dropReason = reason;
    this._host.peerLog('drop', 'dropped clients', () => `client ${this.id} (${this.remote}) dropped: ${reason}`);
    this.terminate();
  }

  /** Drop the socket without a handshake (dead peer). */
  public terminate(): void {
    this._ws.terminate();
    this.dispose();
  }

  public ping(): void {
    if (!this._closed) this._ws.ping();
  }

  /** The link is gone: release held input on the VM, leave its channel, free everything. */
  public dispose(): void {
    if (this._closed) return;
    this._closed = true;
    this._releaseInput();
    const ch = this.mirror.channel;
    this.mirror.close();
    this._vm = undefined;
    if (ch !== undefined) this._host.channelUnused(ch);
  }

  /** The VM went away (removed from the registry): detach, tell the client, stay connected. */
  public vmRemoved(vm: LabVm): void {
    this.mirror.forgetVm(vm);
    if (this._vm !== vm) return;
    const ch = this.mirror.channel;
    this._keysDown.clear();
    this._buttons = 0;
    this._vm = undefined;
    this.mirror.detach();
    this.mirror.postControl(encodeStatus(StatusCode.VM_STOPPED, `VM '${vm.name}' stopped`));
    if (ch !== undefined) this._host.channelUnused(ch);
  }

  /** For the VM list change EVENT and the like. */
  public postControl(bytes: Uint8Array): void {
    this.mirror.postControl(bytes);
  }

  // ---- input ---------------------------------------------------------------------------------

  private _onMessage(data: unknown, isBinary: boolean): void {
    try {
      this._onMessageUnsafe(data, isBinary);
    } catch (err) {
      // A bug here must cost one client, not the lab.
      this._host.peerLog('internal', 'internal errors', () => `client ${this.id}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      this.close(CloseCode.INTERNAL, 'internal server error');
    }
  }

  private _onMessageUnsafe(data: unknown, isBinary: boolean): void {
    if (this._closed) return;
    this._received++;
    const now = Date.now();
    if (now - this._windowStart >= 1000) {
      this._windowStart = now;
      this._windowCount = 0;
    }
    if (++this._windowCount > MESSAGE_RATE) {
      this.close(CloseCode.POLICY, `more than ${MESSAGE_RATE} messages per second`);
      return;
    }
    const bytes = toBytes(data);
    if (!isBinary) {
      this._error(ErrorCode.UNSUPPORTED_FRAME, 'text frames are not part of the protocol (binary only)');
      return;
    }
    if (bytes.byteLength > MAX_CLIENT_MESSAGE) {
      this._error(ErrorCode.TOO_LARGE, `message of ${bytes.byteLength} bytes exceeds ${MAX_CLIENT_MESSAGE}`);
      return;
    }
    const m = decodeClientMessage(bytes);
    if (isProtocolError(m)) {
      this._error(ErrorCode.BAD_MESSAGE, m.error);
      return;
    }
    this._handle(m);
  }

  private _handle(m: ClientMessage): void {
    if (m.type === Msg.ATTACH) {
      this._attach(m.vm);
      return;
    }
    if (m.type === Msg.PING) {
      // Answered at once, attached or not: the viewer's clock-offset estimate for flip → present.
      this.mirror.postControl(encodePong(m.seq, m.clientMs, performance.timeOrigin + performance.now()));
      return;
    }
    const vm = this._vm;
    if (vm === undefined) {
      this._error(ErrorCode.NOT_ATTACHED, `${msgName(m.type)} before ATTACH`);
      return;
    }
    switch (m.type) {
      case Msg.KEY:
        if (vm.sendKey === undefined) return this._error(ErrorCode.NOT_SUPPORTED, `VM '${vm.name}' takes no keyboard input`);
        // A release of a key this client never pressed is dropped: it cannot unstick another
        // viewer's key, and it is not worth an error (browsers send them after focus changes).
        if (!m.down && !this._keysDown.has(m.code)) return;
        if (m.down) this._keysDown.add(m.code);
        else this._keysDown.delete(m.code);
        this._input(() => vm.sendKey!(m.code, m.down));
        return;
      case Msg.POINTER_ABS:
      case Msg.POINTER_REL: {
        if (vm.sendPointer === undefined) return this._error(ErrorCode.NOT_SUPPORTED, `VM '${vm.name}' takes no pointer input`);
        const p: PointerInput = m.type === Msg.POINTER_ABS
          ? { kind: 'abs', x: m.x, y: m.y, buttons: m.buttons }
          : { kind: 'rel', dx: m.dx, dy: m.dy, buttons: m.buttons };
        this._buttons = m.buttons;
        if (p.kind === 'abs') this._lastAbs = { x: p.x, y: p.y };
        this._input(() => vm.sendPointer!(p));
        return;
      }
      case Msg.RESIZE:
        if (vm.requestResize === undefined) return this._error(ErrorCode.NOT_SUPPORTED, `VM '${vm.name}' cannot resize`);
        if (!this._resizeLimit.take(Date.now()) || !this._host.vmAllows(vm, 'resize')) {
          return this._error(ErrorCode.TOO_MANY, `RESIZE refused: at most ${RESIZE_RATE.rate} per second`);
        }
        this._input(() => vm.requestResize!(m.width, m.height));
        return;
      case Msg.ACK:
        if (!this.mirror.ack(m.seq)) this._error(ErrorCode.BAD_MESSAGE, `ACK ${m.seq}: no such frame outstanding`);
        return;
      case Msg.PRESENTED:
        if (!this.mirror.presented(m.flipSeq)) this._error(ErrorCode.BAD_MESSAGE, `PRESENTED ${m.flipSeq}: no such flip sent`);
        return;
    }
  }

  private _attach(name: string): void {
    const vm = this._host.findVm(name);
    if (vm === undefined) {
      this._error(ErrorCode.UNKNOWN_VM, `no VM named '${name}'`);
      return;
    }
    if (vm === this._vm) return;
    if (!this._attachLimit.take(Date.now()) || !this._host.vmAllows(vm, 'attach')) {
      this._error(ErrorCode.TOO_MANY, `ATTACH refused: at most ${ATTACH_RATE.rate} per second`);
      return;
    }
    this._releaseInput();
    const old = this.mirror.channel;
    this._vm = vm;
    this.mirror.attach(this._host.channelFor(vm));
    if (old !== undefined) this._host.channelUnused(old);
  }

  /** A VM's input handler is guest-side code: its failure is reported, not fatal to the server. */
  private _input(fn: () => void): void {
    this._inputs++;
    try {
      fn();
    } catch (err) {
      this._host.peerLog('input', 'failed inputs', () => `input handler of VM '${this._vm?.name}' threw: ${err instanceof Error ? err.message : String(err)}`);
      this._error(ErrorCode.INTERNAL, 'the VM could not take this input');
    }
  }

  /** Keys and buttons this client holds go up on the VM it leaves (no stuck Ctrl). */
  private _releaseInput(): void {
    const vm = this._vm;
    if (vm === undefined) return;
    try {
      for (const code of this._keysDown) vm.sendKey?.(code, false);
      if (this._buttons !== 0) {
        const at = this._lastAbs;
        vm.sendPointer?.(at ? { kind: 'abs', x: at.x, y: at.y, buttons: 0 } : { kind: 'rel', dx: 0, dy: 0, buttons: 0 });
      }
    } catch (err) {
      this._host.peerLog('input', 'failed inputs', () => `releasing input on VM '${vm.name}' failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    this._keysDown.clear();
    this._buttons = 0;
  }

  private _error(code: ErrorCode, text: string): void {
    this._errors++;
    const now = Date.now();
    if (now - this._errorWindowStart >= 60_000) {
      this._errorWindowStart = now;
      this._errorWindowCount = 0;
    }
    if (++this._errorWindowCount > ERROR_BUDGET) {
      this.close(CloseCode.POLICY, `more than ${ERROR_BUDGET} protocol errors; last: ${text}`);
      return;
    }
    this.mirror.postControl(encodeError(code, text));
  }
}

/** At most 123 UTF-8 bytes (the close frame's limit), cut at a character boundary. */
export function closeReason(text: string): string {
  const enc = new TextEncoder();
  if (enc.encode(text).byteLength <= 123) return text;
  let t = text;
  while (enc.encode(`${t}…`).byteLength > 123) t = t.slice(0, -1);
  return `${t}…`;
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return new Uint8Array(0);
}

function msgName(type: Msg): string {
  switch (type) {
    case Msg.KEY: return 'KEY';
    case Msg.POINTER_ABS: return 'POINTER_ABS';
    case Msg.POINTER_REL: return 'POINTER_REL';
    case Msg.RESIZE: return 'RESIZE';
    case Msg.ACK: return 'ACK';
    case Msg.PRESENTED: return 'PRESENTED';
    default: return `message 0x${(type as number).toString(16)}`;
  }
}
