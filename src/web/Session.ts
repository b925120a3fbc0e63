import { Disposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import {
  Msg, StatusCode, encodeAck, encodeAttach, encodeKey, encodePing, encodePointerAbs, encodePresented, encodeResize,
} from '../protocol/RemoteProtocol.ts';
import type { ServerMessage } from '../protocol/RemoteProtocol.ts';
import { BufferStore } from './BufferStore.ts';
import type { RemoteBuffer } from './BufferStore.ts';
import { Connection } from './Connection.ts';
import type { SocketFactory } from './Connection.ts';
import { ClockSync } from './ClockSync.ts';
import { FlipLatency } from './FlipLatency.ts';
import type { IRenderer } from './IRenderer.ts';
import { describeServerEvent, planeProblemSentence, statusSentence } from './StatusText.ts';

/** A line of the inspector's recent-events list. */
export interface SessionEvent {
  /** Date.now() */
  readonly time: number;
  readonly source: 'server' | 'viewer';
  readonly text: string;
}

export interface CursorInfo {
  readonly id: number;
  readonly x: number;
  readonly y: number;
  /** 0xFFFFFFFF: unknown. Informational (VFIO ABI): the plane's top-left is (x, y). */
  readonly hotX: number;
  readonly hotY: number;
}

/** Counters for the stats overlay (monotonic; the overlay derives rates). */
export interface SessionCounters {
  /** FRAME messages: guest frames consumed (UPS). */
  frames: number;
  /** SCANOUT messages: flips. */
  flips: number;
  /** Renders presented (FPS). */
  presents: number;
  /** Protocol errors and ERROR messages. */
  errors: number;
}

const MAX_EVENTS = 100;

/** A kind of event that repeats (a flip per vblank): counted, not listed line by line. */
export interface ActivityCount {
  count: number;
  /** performance.now() of the last one. */
  lastAt: number;
}

/** What the server says about one VM in HELLO (only what the viewer uses). */
export interface VmInfo {
  readonly name: string;
  /** The VM takes RESIZE requests. */
  readonly resize: boolean;
}

/** What the server says a VM list entry is: a name, or an object with `name` (or `id`). */
function vmInfos(info: unknown): VmInfo[] {
  if (typeof info !== 'object' || info === null) return [];
  const vms = (info as { vms?: unknown }).vms;
  if (!Array.isArray(vms)) return [];
  const out: VmInfo[] = [];
  for (const v of vms) {
    if (typeof v === 'string') out.push({ name: v, resize: false });
    else if (typeof v === 'object' && v !== null) {
      const n = (v as { name?: unknown; id?: unknown }).name ?? (v as { id?: unknown }).id;
      const input = (v as { input?: { resize?: unknown } }).input;
      if (typeof n === 'string' || typeof n === 'number') out.push({ name: String(n), resize: input?.resize === true });
    }
  }
  return out.filter((n) => n.name.length > 0 && n.name.length <= 64);
}

/**
 * One VM on one connection: mirrors the server's buffers (BufferStore), tracks the scanned-out
 * primary and the cursor, feeds the renderer, and keeps what the status line, stats overlay and
 * inspector show. No DOM here besides the renderer it is given.
 */
export class Session extends Disposable {
  private readonly _onChange = this._register(new Emitter<void>());
  /** Anything visible changed: re-render and refresh the panels. */
  public readonly onChange = this._onChange.event;
  private readonly _onVms = this._register(new Emitter<string[]>());
  /** HELLO listed these VMs. */
  public readonly onVms = this._onVms.event;

  public readonly connection: Connection;
  public readonly store = new BufferStore(() => performance.now());
  public readonly counters: SessionCounters = { frames: 0, flips: 0, presents: 0, errors: 0 };
  public readonly events: SessionEvent[] = [];
  public vm: string | undefined;
  public vms: string[] = [];
  public vmInfo: VmInfo[] = [];
  /** Repeating events by what they are ('flips received', …): counts for the inspector. */
  public readonly activity = new Map<string, ActivityCount>();
  /** Flip → present, on this page's clock (the host's vblank times shifted by `clock`). */
  public readonly flipLatency = new FlipLatency();
  public readonly clock = new ClockSync();
  public helloInfo: unknown = undefined;
  public primaryId: number | null = null;
  public cursor: CursorInfo | null = null;
  /** The last STATUS (CONNECTING until the server says otherwise). */
  public serverStatus: { code: number; text: string } = { code: StatusCode.CONNECTING, text: '' };
  /** Why the renderer refused the scanned-out buffer, if it did. */
  public planeProblem: string | undefined;
  /** The last protocol error or server ERROR (shown until dismissed). */
  public lastError: string | undefined;
  /** The last STATS payload, and when it arrived (Date.now(), to compare with its `t`). */
  public stats: unknown = undefined;
  public statsAt: number | undefined;
  /** Damage of the last FRAME. */
  public lastDamage: readonly { x: number; y: number; width: number; height: number }[] = [];
  private _pendingAcks: number[] = [];
  private _cursorProblem: string | undefined;
  private _renderer: IRenderer;

  public constructor(url: string, vm: string | undefined, renderer: IRenderer,
    socketFactory?: SocketFactory) {
    super();
    this.vm = vm;
    this._renderer = renderer;
    this.connection = this._register(new Connection(url, socketFactory));
    this._register(this.connection.onOpen(() => this._opened()));
    this._register(this.connection.onMessage((m) => this._message(m)));
    this._register(this.connection.onProtocolError((e) => this._error(`Protocol error: ${e}`)));
    this._register(this.connection.onStatus((s) => {
      if (s.state === 'waiting') this._event('viewer', `disconnected: ${s.reason}`);
      this._onChange.fire();
    }));
  }

  public get renderer(): IRenderer {
    return this._renderer;
  }

  /** Start connecting. */
  public start(): void {
    this.connection.retryNow();
  }

  /** Swap the renderer (context loss → Canvas2D): the new one picks up the shown planes. */
  public setRenderer(r: IRenderer): void {
    this._renderer = r;
    this._showPrimary();
    this._showCursor();
    this._onChange.fire();
  }

  public get primary(): RemoteBuffer | undefined {
    return this.primaryId === null ? undefined : this.store.get(this.primaryId);
  }

  public sendKey(code: number, down: boolean): void {
    this.connection.send(encodeKey(code, down));
  }

  public sendPointer(x: number, y: number, buttons: number): void {
    this.connection.send(encodePointerAbs(x, y, buttons & 7));
  }

  public sendResize(width: number, height: number): void {
    if (this.connection.send(encodeResize(width, height))) this._event('viewer', `resize to ${width}x${height}`);
  }

  /** Whether the VM takes RESIZE requests (HELLO says so). */
  public get canResize(): boolean {
    return this.vmInfo.find((v) => v.name === this.vm)?.resize === true;
  }

  /** The view drew a frame: acknowledge the FRAMEs it contains (server backpressure). */
  public presented(): void {
    this.counters.presents++;
    for (const seq of this._pendingAcks) this.connection.send(encodeAck(seq));
    this._pendingAcks = [];
  }

  /**
   * The frame drawn after the last SCANOUT reached the screen (the animation frame after its
   * upload and draw): one flip → present sample at `nowMs` (page clock, epoch ms).
   */
  public flipPresented(nowMs: number): void {
    const seq = this.flipLatency.present(nowMs);
    // The server paces flips by it: a slower viewer drops flips instead of queueing them.
    if (seq !== undefined) this.connection.send(encodePresented(seq));
  }

  /** Send a clock probe when one is due (called on open, on PONG and by the view's tick). */
  public probeClock(): void {
    const p = this.clock.due();
    if (p !== undefined) this.connection.send(encodePing(p.seq, p.clientMs));
  }

  public dismissError(): void {
    this.lastError = undefined;
    this._onChange.fire();
  }

  /** Add a line to the recent events (the viewer's own, e.g. screenshot saved). */
  public note(text: string): void {
    this._event('viewer', text);
    this._onChange.fire();
  }

  // ---- protocol ----------------------------------------------------------------------------

  private _opened(): void {
    // Buffer ids belong to one connection: a new connection starts from an empty mirror.
    this.store.clear();
    this._renderer.reset();
    this.primaryId = null;
    this.cursor = null;
    this.planeProblem = undefined;
    this.serverStatus = { code: StatusCode.CONNECTING, text: '' };
    this._pendingAcks = [];
    this.flipLatency.reset();
    this.clock.reset();
    this.probeClock();
    this._event('viewer', 'connected');
    this._onChange.fire();
  }

  private _message(m: ServerMessage): void {
    switch (m.type) {
      case Msg.HELLO: {
        this.helloInfo = m.info;
        this.vmInfo = vmInfos(m.info);
        this.vms = this.vmInfo.map((v) => v.name);
        this.vm ??= this.vms[0];
        if (this.vm !== undefined) this.connection.send(encodeAttach(this.vm));
        this._event('server', `hello: protocol ${m.version}, VMs ${this.vms.join(', ') || '(none listed)'}`);
        this._onVms.fire(this.vms);
        break;
      }
      case Msg.BUFFER_CREATE: {
        const r = this.store.create(m);
        if (typeof r === 'string') return this._error(`Protocol error: ${r}`);
        if (r.replaced !== undefined) this._renderer.removeBuffer(r.replaced);
        this._event('server', `buffer ${m.id} created: ${m.width}x${m.height} ${formatName(m.drmFormat)} ` +
          `${modifierName(m.modifier)}, stride ${m.stride}, ${m.size} bytes`);
        if (this.primaryId === m.id) this._showPrimary();
        if (this.cursor?.id === m.id) this._showCursor();
        break;
      }
      case Msg.BUFFER_DATA: {
        const w = this.store.write(m.id, m.offset, m.bytes);
        if (typeof w === 'string') return this._error(`Protocol error: ${w}`);
        this._renderer.updateBuffer(w.buffer, w.lo, w.hi);
        break;
      }
      case Msg.BUFFER_RELEASE: {
        const b = this.store.release(m.id);
        if (b === undefined) return this._error(`Protocol error: BUFFER_RELEASE of unknown buffer ${m.id}`);
        this._renderer.removeBuffer(b);
        this._event('server', `buffer ${m.id} released`);
        break;
      }
      case Msg.SCANOUT: {
        const b = this.store.get(m.id);
        if (b === undefined) return this._error(`Protocol error: SCANOUT of unknown buffer ${m.id}`);
        this.counters.flips++;
        b.scanouts++;
        b.lastScanoutAt = performance.now();
        this.flipLatency.flip(m.flipSeq, this.clock.toLocal(m.vblankMs), this.connection.lastReceivedAt,
          performance.timeOrigin + performance.now());
        this._count('flips received');
        this.primaryId = m.id;
        this._showPrimary();
        break;
      }
      case Msg.CURSOR_DEFINE: {
        const known = this.store.get(m.id) !== undefined;
        if (!known && m.id !== 0) return this._error(`Protocol error: CURSOR_DEFINE of unknown buffer ${m.id}`);
        this.cursor = known ? { id: m.id, x: this.cursor?.x ?? 0, y: this.cursor?.y ?? 0, hotX: m.hotX, hotY: m.hotY }
          : null;
        this._count(known ? 'cursor shape changes' : 'cursor hidden');
        this._showCursor();
        break;
      }
      case Msg.CURSOR_MOVE:
        if (this.cursor !== null) {
          this.cursor = { ...this.cursor, x: m.x, y: m.y };
          this._showCursor();
        }
        break;
      case Msg.FRAME:
        this.counters.frames++;
        this.lastDamage = m.rects;
        this._pendingAcks.push(m.seq);
        this._count('damage updates');
        break;
      case Msg.STATUS:
        if (m.code !== this.serverStatus.code || m.text !== this.serverStatus.text) {
          this._event('server', m.code === StatusCode.OK ? 'the display shows a picture'
            : statusSentence(m.code, m.text));
        }
        this.serverStatus = { code: m.code, text: m.text };
        break;
      case Msg.PONG:
        if (this.clock.pong(m.clientMs, m.serverMs)) this.probeClock();
        return;
      case Msg.STATS:
        this.stats = m.stats;
        this.statsAt = Date.now();
        break;
      case Msg.EVENT: {
        const d = describeServerEvent(m.event);
        if (d.repeats) this._count(d.text);
        else this._event('server', d.text);
        break;
      }
      case Msg.ERROR:
        this._error(`Server error ${m.code}: ${m.text}`);
        return;
    }
    this._onChange.fire();
  }

  private _count(what: string): void {
    const a = this.activity.get(what);
    if (a === undefined) this.activity.set(what, { count: 1, lastAt: performance.now() });
    else {
      a.count++;
      a.lastAt = performance.now();
    }
  }

  private _hot(x: number, y: number): string {
    return x === 0xffffffff || y === 0xffffffff ? 'unknown' : `${x},${y}`;
  }

  private _showPrimary(): void {
    const b = this.primary;
    if (b === undefined) return;
    const problem = this._renderer.setPrimary(b);
    const text = problem === undefined ? undefined : planeProblemSentence(problem.kind, problem.message);
    if (text !== undefined && text !== this.planeProblem) this._event('viewer', text);
    this.planeProblem = text;
  }

  private _showCursor(): void {
    const c = this.cursor;
    const b = c === null ? undefined : this.store.get(c.id);
    if (c === null || b === undefined) {
      this._renderer.setCursor(null);
      return;
    }
    const problem = this._renderer.setCursor({ buffer: b, x: c.x, y: c.y });
    const text = problem === undefined ? undefined : `cursor not shown: ${problem.message}`;
    // Logged once per problem, not on every CURSOR_MOVE.
    if (text !== undefined && text !== this._cursorProblem) this._event('viewer', text);
    this._cursorProblem = text;
  }

  private _error(text: string): void {
    this.counters.errors++;
    this.lastError = text;
    this._event('viewer', text);
    this._onChange.fire();
  }

  private _event(source: 'server' | 'viewer', text: string): void {
    this.events.push({ time: Date.now(), source, text });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }
}
