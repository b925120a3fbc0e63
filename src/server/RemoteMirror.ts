import { DamageMapper } from '../display/DamageMapper.ts';
import { formatInfo } from '../kms/Fourcc.ts';
import {
  Msg, encodeBufferCreate, encodeCursorDefine, encodeCursorMove, encodeFrame, encodeId, encodeJson,
  encodeScanout, encodeStatus,
} from '../protocol/RemoteProtocol.ts';
import type { IDisposable } from '../base/Disposable.ts';
import type { MirrorStats, StatsPayload } from '../protocol/InspectorData.ts';
import type { BufferShadow } from './BufferShadow.ts';
import type { BudgetAccount } from './OutputBudget.ts';
import {
  CHUNK_BLOCKS, NO_BUFFER, type ChannelCursor, type ChannelEvent, type ChannelPointer, type ChannelStatus,
  type VmChannel,
} from './VmChannel.ts';

/** Where a mirror's messages go (a WebSocket in the server, an array in unit tests). */
export interface MirrorTransport {
  /** Queue `bytes` for the client; call `done` once they left the process (or the link died). */
  send(bytes: Uint8Array, done: () => void): void;
}

export interface MirrorOptions {
  /**
   * Bytes handed to the transport and not yet written out, at most (one message may overshoot
   * it, so the true bound is this plus one 256 KiB chunk). Default 16 MiB.
   */
  readonly maxQueuedBytes?: number;
  /** Send EVENT messages (the inspector's timeline). Default false: flips stay 5 bytes. */
  readonly events?: boolean;
  /** Once the client ACKs frames, keep at most this many FRAMEs un-ACKed. Default 4. */
  readonly ackWindow?: number;
  /** This client's share of the server's global output budget (none: only the per-client bound). */
  readonly account?: BudgetAccount;
  /** How long a VM switched away from stays parked (ms). Default PARK_MS. */
  readonly parkMs?: number;
  /** The mirror stopped following `channel` for good (a parked VM expired or was dropped). */
  readonly left?: (channel: VmChannel) => void;
}

export type { MirrorStats };

/** One buffer as the client holds it: which content version it got for each block. */
interface ClientBuffer {
  readonly shadow: BufferShadow;
  readonly have: Uint32Array;
  /** shadow.gen at the start of the last completed pass: equal means nothing new to send. */
  seenGen: number;
  passActive: boolean;
  passPos: number;
  passGen: number;
  /** Turns the blocks a damage pass sent into FRAME rectangles (made on first damage). */
  mapper: DamageMapper | undefined;
  /** A damage pass sent something since the last FRAME. */
  frameDirty: boolean;
}

/**
 * The VM a client switched away from stays parked this long: its buffers stay on the client and
 * the channel keeps their versions, so a switch back sends only what changed meanwhile.
 */
export const PARK_MS = 30_000;

interface Parked {
  readonly channel: VmChannel;
  readonly held: Map<number, ClientBuffer>;
  /** The join() handle and the release subscription on the parked channel. */
  readonly links: IDisposable[];
  readonly timer: ReturnType<typeof setTimeout>;
}

const EVENT_QUEUE = 64;
const CONTROL_QUEUE = 16;

/** Flips a paced client may have in flight unpresented (see `presented`). */
export const FLIP_WINDOW = 2;

/**
 * One client's mirror of a VM's display. Rather than queueing messages, it keeps what the client
 * has (buffers, per-block versions, shown ids, cursor, status) and, while the transport has room,
 * emits the next message that brings the client closer to the VM's state. Damage therefore
 * coalesces by itself, a flip to a buffer the client has costs one SCANOUT, a cursor move
 * overtakes pixel data, and memory per client is bounded by `maxQueuedBytes` plus a chunk —
 * however long the client stops reading.
 *
 * Ordering: BUFFER_CREATE before a buffer's data; SCANOUT(id) only after one full pass over the
 * buffer's stale blocks (so a flip never shows a half-sent buffer); FRAME(seq, rects) after the
 * damage pass whose blocks it lists; BUFFER_RELEASE never for the buffer the client shows.
 */
export class RemoteMirror {
  private readonly _transport: MirrorTransport;
  private readonly _limit: number;
  private readonly _eventsOn: boolean;
  private readonly _ackWindow: number;
  private readonly _account: BudgetAccount | undefined;
  private readonly _left: ((channel: VmChannel) => void) | undefined;
  private readonly _parkMs: number;
  private _join: IDisposable | undefined;
  private _parked: Parked | undefined;
  /** Remote ids this client claimed on each channel it follows (current and parked). */
  private readonly _claimed = new Map<VmChannel, Set<number>>();

  private _channel: VmChannel | undefined;
  /** join() and event subscriptions on the channel followed now. */
  private _links: IDisposable[] = [];
  private readonly _held = new Map<number, ClientBuffer>();
  private readonly _release: number[] = [];
  private _scanoutId = NO_BUFFER;
  private _cursorId = NO_BUFFER;
  /** The channel's state snapshots as last sent (identity: a new snapshot is a change). */
  private _status: ChannelStatus | undefined;
  private _pointer: ChannelPointer | undefined;
  private _cursor: ChannelCursor | undefined;
  private _syncTarget: ClientBuffer | undefined;
  private readonly _control: Uint8Array[] = [];
  private readonly _events: ChannelEvent[] = [];
  private _stats: StatsPayload | undefined = undefined;
  private _frameSeq = 0;
  private _lastAck = 0;
  private _acked = false;
  /** Flip numbers of SCANOUTs sent that the client has not presented yet (it sent PRESENTED once). */
  private _unpresented: number[] = [];
  private _paced = false;
  private _pumping = false;
  private _again = false;
  private _closed = false;

  private _queued = 0;
  private _queuedPeak = 0;
  private _bytesSent = 0;
  private _messages = 0;
  private _dataBytes = 0;
  private _chunks = 0;
  private _creates = 0;
  private _releases = 0;
  private _scanouts = 0;
  private _frames = 0;
  private _cursorDefines = 0;
  private _cursorMoves = 0;
  private _eventsDropped = 0;
  private _controlDropped = 0;

  public constructor(transport: MirrorTransport, options: MirrorOptions = {}) {
    this._transport = transport;
    this._limit = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    if (!(this._limit > 0)) throw new RangeError(`maxQueuedBytes must be > 0, got ${this._limit}`);
    this._eventsOn = options.events ?? false;
    this._ackWindow = options.ackWindow ?? 4;
    this._account = options.account;
    this._left = options.left;
    this._parkMs = options.parkMs ?? PARK_MS;
  }

  public get channel(): VmChannel | undefined {
    return this._channel;
  }

  /** Bytes handed to the transport and not yet written out. */
  public get queuedBytes(): number {
    return this._queued;
  }

  public get stats(): MirrorStats {
    return {
      attached: this._channel?.vm.name ?? null, queuedBytes: this._queued, queuedPeak: this._queuedPeak,
      bytesSent: this._bytesSent, messagesSent: this._messages, dataBytes: this._dataBytes,
      chunks: this._chunks, creates: this._creates, releases: this._releases, scanouts: this._scanouts,
      frames: this._frames, cursorDefines: this._cursorDefines, cursorMoves: this._cursorMoves,
      buffersHeld: this._held.size, eventsDropped: this._eventsDropped, controlDropped: this._controlDropped,
      lastAck: this._lastAck, frameSeq: this._frameSeq,
    };
  }

  /**
   * Follow `channel`. The VM left behind is parked (its buffers stay on the client for PARK_MS);
   * a switch back to the parked VM resends only the blocks that changed meanwhile.
   */
  public attach(channel: VmChannel): void {
    if (this._channel === channel || this._closed) return;
    const back = this._parked?.channel === channel ? this._parked : undefined;
    if (back !== undefined) {
      clearTimeout(back.timer);
      this._parked = undefined;
    }
    this._detach(true);
    this._channel = channel;
    this._join = channel.join();
    this._links = [channel.onChange(() => this.pump()), channel.onRelease((s) => this._released(s))];
    if (this._eventsOn) this._links.push(channel.onInspect((e) => this._event(e)));
    if (back !== undefined) {
      for (const d of back.links) d.dispose();
      for (const [id, cb] of back.held) {
        if (!cb.shadow.alive || channel.shadow(id) !== cb.shadow) {
          if (!this._release.includes(id)) this._release.push(id);
          continue;
        }
        cb.passActive = false;
        cb.frameDirty = false;
        cb.mapper?.take();
        this._held.set(id, cb);
      }
    }
    // A parked buffer whose id the new VM already uses is released (before that id is created).
    const p = this._parked;
    if (p !== undefined) {
      for (const id of [...p.held.keys()]) {
        if (channel.shadow(id) === undefined) continue;
        p.held.delete(id);
        if (!this._release.includes(id)) this._release.push(id);
      }
      if (p.held.size === 0) this._dropParked();
    }
    // Ids the client still knows (held, parked, to release) stay taken on the new VM too.
    this._syncClaims();
    this.pump();
  }

  /** Stop following the VM; every buffer the client holds is released (in order, on the wire). */
  public detach(): void {
    this._detach(false);
  }

  /** The VM is gone: if it is parked, its buffers are released. */
  public forgetVm(vm: VmChannel['vm']): void {
    if (this._parked?.channel.vm !== vm) return;
    this._dropParked();
    this._syncClaims();
    this.pump();
  }

  private _detach(park: boolean): void {
    const ch = this._channel;
    if (ch === undefined) return;
    for (const d of this._links) d.dispose();
    this._links = [];
    if (this._cursorId !== NO_BUFFER && this._control.length < CONTROL_QUEUE) {
      this._control.push(encodeCursorDefine(NO_BUFFER, 0, 0));
    }
    const join = this._join;
    this._join = undefined;
    if (park && this._held.size > 0 && join !== undefined) {
      this._dropParked();
      for (const cb of this._held.values()) cb.passActive = false;
      const timer = setTimeout(() => {
        this._dropParked();
        this._syncClaims();
        this.pump();
      }, this._parkMs);
      timer.unref?.();
      this._parked = {
        channel: ch, held: new Map(this._held), timer,
        links: [join, ch.onRelease((sh) => this._parkedReleased(sh))],
      };
    } else {
      join?.dispose();
      for (const id of this._held.keys()) if (!this._release.includes(id)) this._release.push(id);
    }
    this._held.clear();
    this._channel = undefined;
    this._scanoutId = this._cursorId = NO_BUFFER;
    this._status = this._pointer = this._cursor = undefined;
    this._syncTarget = undefined;
    this._unpresented = [];
    this._syncClaims();
    this.pump();
  }

  /** Stop keeping the parked VM: its buffers are released on the client, its channel let go. */
  private _dropParked(): void {
    const p = this._parked;
    if (p === undefined) return;
    this._parked = undefined;
    clearTimeout(p.timer);
    for (const id of p.held.keys()) if (!this._release.includes(id)) this._release.push(id);
    for (const d of p.links) d.dispose();
    this._left?.(p.channel);
  }

  private _parkedReleased(shadow: BufferShadow): void {
    const p = this._parked;
    const cb = p?.held.get(shadow.remoteId);
    if (p === undefined || cb === undefined || cb.shadow !== shadow) return;
    p.held.delete(shadow.remoteId);
    this._release.push(shadow.remoteId);
    this.pump();
  }

  /**
   * Every channel this client follows (current and parked) has every id the client knows claimed,
   * so no channel hands one of them to another buffer; claims on channels left are given back.
   */
  private _syncClaims(): void {
    const known = new Set<number>(this._release);
    for (const id of this._held.keys()) known.add(id);
    if (this._parked !== undefined) for (const id of this._parked.held.keys()) known.add(id);
    const followed: VmChannel[] = [];
    if (this._channel !== undefined && !this._closed) followed.push(this._channel);
    if (this._parked !== undefined && !this._closed) followed.push(this._parked.channel);
    for (const [ch, set] of this._claimed) {
      if (followed.includes(ch)) continue;
      for (const id of set) ch.unclaimId(id);
      this._claimed.delete(ch);
    }
    for (const ch of followed) {
      let set = this._claimed.get(ch);
      if (set === undefined) this._claimed.set(ch, set = new Set());
      for (const id of set) {
        if (known.has(id)) continue;
        ch.unclaimId(id);
        set.delete(id);
      }
      for (const id of known) {
        if (set.has(id)) continue;
        ch.claimId(id);
        set.add(id);
      }
    }
  }

  /** A small message outside the display state (ERROR, a STATUS after detach); bounded. */
  public postControl(bytes: Uint8Array): void {
    if (this._closed) return;
    if (this._control.length >= CONTROL_QUEUE) {
      this._controlDropped++;
      return;
    }
    this._control.push(bytes);
    this.pump();
  }

  /** The latest STATS payload; an unsent older one is replaced. */
  public postStats(value: StatsPayload): void {
    this._stats = value;
    this.pump();
  }

  /** The client displayed frame `seq`. Returns false for a seq never sent (a protocol error). */
  public ack(seq: number): boolean {
    if (seq > this._frameSeq || seq < this._lastAck) return false;
    this._lastAck = seq;
    this._acked = true;
    this.pump();
    return true;
  }

  /**
   * The client presented flip `flipSeq`, and so every flip sent before it. From the first one on,
   * a flip is held while FLIP_WINDOW are unpresented. Returns false for a flip never sent.
   */
  public presented(flipSeq: number): boolean {
    const seq = flipSeq >>> 0;
    const i = this._unpresented.indexOf(seq);
    if (i < 0) {
      // An older flip (already presented, or sent before a detach) changes nothing; one the VM
      // has not even made yet is a lie.
      const newest = this._channel?.flipSeq;
      return newest === undefined || seq === newest || ((seq - newest) >>> 0) >= 0x80000000;
    }
    this._unpresented.splice(0, i + 1);
    this._paced = true;
    this.pump();
    return true;
  }

  /** The link is gone: stop sending, forget everything. */
  public close(): void {
    this._closed = true;
    this._account?.dispose();
    for (const d of this._links) d.dispose();
    this._links = [];
    this._join?.dispose();
    this._join = undefined;
    this._channel = undefined;
    const parked = this._parked;
    this._parked = undefined;
    if (parked !== undefined) {
      clearTimeout(parked.timer);
      for (const d of parked.links) d.dispose();
    }
    this._syncClaims();
    if (parked !== undefined) this._left?.(parked.channel);
    this._held.clear();
    this._release.length = 0;
    this._control.length = 0;
    this._events.length = 0;
    this._stats = undefined;
    this._syncTarget = undefined;
  }

  // ---- channel events -----------------------------------------------------------------------------

  private _released(shadow: BufferShadow): void {
    const cb = this._held.get(shadow.remoteId);
    if (cb === undefined || cb.shadow !== shadow) return;
    this._held.delete(shadow.remoteId);
    if (this._syncTarget === cb) this._syncTarget = undefined;
    this._release.push(shadow.remoteId);
    this.pump();
  }

  private _event(event: ChannelEvent): void {
    if (this._closed) return;
    if (this._events.length >= EVENT_QUEUE) {
      this._events.shift();
      this._eventsDropped++;
    }
    this._events.push(event);
  }

  // ---- pumping ------------------------------------------------------------------------------------

  /** Send while there is room. Re-entrant calls (a synchronous `done`) are folded into one loop. */
  public pump(): void {
    if (this._closed) return;
    if (this._pumping) {
      this._again = true;
      return;
    }
    this._pumping = true;
    try {
      do {
        this._again = false;
        while (this._queued < this._limit && !this._closed && (this._account?.mayQueue() ?? true)) {
          const m = this._next();
          if (m === undefined) break;
          this._send(m);
        }
      } while (this._again);
    } finally {
      this._pumping = false;
    }
  }

  private _send(bytes: Uint8Array): void {
    const n = bytes.byteLength;
    this._queued += n;
    if (this._queued > this._queuedPeak) this._queuedPeak = this._queued;
    this._bytesSent += n;
    this._messages++;
    this._account?.queued(n);
    let done = false;
    this._transport.send(bytes, () => {
      if (done) return;
      done = true;
      this._queued -= n;
      this._account?.queued(-n);
      this.pump();
    });
  }

  /** The next message that moves the client towards the VM's state, by priority. */
  private _next(): Uint8Array | undefined {
    if (this._control.length > 0) return this._control.shift();
    const ch = this._channel;
    for (let k = 0; k < this._release.length; k++) {
      const id = this._release[k]!;
      if (id === this._scanoutId || id === this._cursorId) continue;
      this._release.splice(k, 1);
      this._syncClaims();
      this._releases++;
      return encodeId(Msg.BUFFER_RELEASE, id);
    }
    if (ch !== undefined) {
      const status = ch.status;
      if (this._status !== status) {
        this._status = status;
        return encodeStatus(status.code, status.text);
      }
      // Positions matter only while a cursor is (or is about to be) shown.
      const pointer = ch.pointer;
      if (this._pointer !== pointer && (ch.cursor.shadow !== undefined || this._cursorId !== NO_BUFFER)) {
        this._pointer = pointer;
        this._cursorMoves++;
        return encodeCursorMove(pointer.x, pointer.y);
      }
    }
    if (this._events.length > 0) return encodeJson(Msg.EVENT, this._events.shift());
    if (this._stats !== undefined) {
      const s = this._stats;
      this._stats = undefined;
      return encodeJson(Msg.STATS, s);
    }
    if (ch === undefined) return undefined;
    return this._nextCursor(ch) ?? this._nextPrimary(ch);
  }

  private _nextCursor(ch: VmChannel): Uint8Array | undefined {
    const cursor = ch.cursor;
    const s = cursor.shadow;
    if (s === undefined) {
      this._cursor = cursor;
      if (this._cursorId === NO_BUFFER) return undefined; // the client shows none already
      this._cursorId = NO_BUFFER;
      this._cursorDefines++;
      return encodeCursorDefine(NO_BUFFER, 0, 0);
    }
    const cb = this._held.get(s.remoteId);
    const current = cb !== undefined && this._cursor === cursor && cb.seenGen === s.gen;
    if (current && !cb.passActive) return undefined;
    if (cb === undefined) return this._create(ch, s);
    if (!cb.passActive && cb.seenGen !== s.gen) this._startPass(cb);
    const m = this._passStep(cb, false);
    if (m !== undefined) return m;
    this._cursor = cursor;
    this._cursorId = s.remoteId;
    this._cursorDefines++;
    return encodeCursorDefine(s.remoteId, cursor.hotX, cursor.hotY);
  }

  private _nextPrimary(ch: VmChannel): Uint8Array | undefined {
    const p = ch.primary;
    if (p === undefined) return undefined;
    const cb = this._held.get(p.remoteId);
    if (cb === undefined) return this._create(ch, p);
    if (this._scanoutId !== p.remoteId) {
      // A flip: one fresh pass over the target's stale blocks, then SCANOUT — unless a paced
      // client has not presented the flips in flight: then the newest flip goes once it has.
      if (this._syncTarget !== cb && this._paced && this._unpresented.length >= FLIP_WINDOW) return undefined;
      if (this._syncTarget !== cb) {
        this._syncTarget = cb;
        this._startPass(cb);
      }
      const m = this._passStep(cb, false);
      if (m !== undefined) return m;
      this._syncTarget = undefined;
      this._scanoutId = p.remoteId;
      cb.mapper?.take(); // the SCANOUT redraws everything
      cb.frameDirty = false;
      this._scanouts++;
      this._unpresented.push(ch.flipSeq);
      if (this._unpresented.length > FLIP_WINDOW * 4) this._unpresented.shift();
      return encodeScanout(p.remoteId, ch.flipSeq, ch.flipVblankMs);
    }
    if (!cb.passActive) {
      if (cb.seenGen === p.gen) return undefined;
      if (this._acked && this._ackWindow > 0 && this._frameSeq - this._lastAck >= this._ackWindow) return undefined;
      this._startPass(cb);
    }
    const m = this._passStep(cb, true);
    if (m !== undefined) return m;
    if (!cb.frameDirty) return undefined;
    cb.frameDirty = false;
    const mapper = cb.mapper;
    const rects = mapper?.layout === undefined ? [fullRect(p)] : mapper.take();
    if (rects.length === 0) return undefined; // only stride padding changed
    this._frames++;
    return encodeFrame(++this._frameSeq, rects);
  }

  private _create(_ch: VmChannel, s: BufferShadow): Uint8Array {
    const have = new Uint32Array(s.blocks);
    // The client's new buffer is zero-filled: blocks that are all zero are already right.
    for (let i = 0; i < s.blocks; i++) if (s.zero[i] !== 0) have[i] = s.version[i]!;
    this._held.set(s.remoteId, {
      shadow: s, have, seenGen: -1, passActive: false, passPos: 0, passGen: 0, mapper: undefined, frameDirty: false,
    });
    this._syncClaims();
    this._creates++;
    const b = s.buffer;
    return encodeBufferCreate({
      id: s.remoteId, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height,
      stride: b.stride, size: s.size,
    });
  }

  private _startPass(cb: ClientBuffer): void {
    cb.passActive = true;
    cb.passPos = 0;
    cb.passGen = cb.shadow.gen;
  }

  /** The next BUFFER_DATA of the pass over `cb`, or undefined when the pass is complete. */
  private _passStep(cb: ClientBuffer, damage: boolean): Uint8Array | undefined {
    if (!cb.passActive) return undefined;
    const s = cb.shadow;
    const have = cb.have;
    const version = s.version;
    const n = s.blocks;
    let i = cb.passPos;
    while (i < n && have[i] === version[i]) i++;
    if (i >= n || !s.alive) {
      cb.passActive = false;
      cb.seenGen = cb.passGen;
      return undefined;
    }
    let j = i + 1;
    const max = Math.min(n, i + CHUNK_BLOCKS);
    while (j < max && have[j] !== version[j]) j++;
    const bytes = this._channel!.chunk(s, i, j);
    if (bytes === undefined) {
      cb.passActive = false;
      return undefined;
    }
    // Versions were observed from the bytes in the message: the client now has exactly those.
    for (let k = i; k < j; k++) have[k] = version[k]!;
    cb.passPos = j;
    if (damage) {
      const mapper = cb.mapper ?? (cb.mapper = mapperFor(s));
      for (let k = i; k < j; k++) mapper.markPage(k);
      cb.frameDirty = true;
    }
    this._chunks++;
    this._dataBytes += bytes.byteLength;
    return bytes;
  }
}

function mapperFor(s: BufferShadow): DamageMapper {
  const b = s.buffer;
  return new DamageMapper({
    width: b.width, height: b.height, stride: b.stride, modifier: b.modifier, cpp: formatInfo(b.drmFormat)?.cpp ?? 4,
  });
}

function fullRect(s: BufferShadow): { x: number; y: number; width: number; height: number } {
  return { x: 0, y: 0, width: Math.min(s.buffer.width, 0xffff), height: Math.min(s.buffer.height, 0xffff) };
}
