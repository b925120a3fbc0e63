import type { GuestStatus } from '../os/GuestOs.ts';
import type { RegisterWindow } from '../os/RegisterWindow.ts';
import { Ctl, GuestChannel, GuestState, St } from './GuestChannel.ts';

/** Thrown inside the guest when the host asked it to stop while it was blocked on the host. */
export class GuestStoppedError extends Error {
  public constructor() {
    super('guest stopped by the host');
  }
}

/** The numbers a guest publishes (see St): the guest OS's own status. */
export type PublishedStatus = GuestStatus;

const TILING_CODE = { linear: 0, x: 1, y: 2 } as const;

/**
 * The guest's end of the channel (runs in the worker; no Node APIs). It is the register window the
 * guest driver programs: writes go into the ring in order (waiting while the ring is full), a read
 * waits for the host's answer, which comes after every earlier write was applied. It also gives
 * the guest its interrupts (vblank counter, input ring, stop flag) and publishes its status.
 */
export class GuestPort implements RegisterWindow {
  public readonly channel: GuestChannel;
  private readonly _ctl: Int32Array;
  private readonly _log: (line: string) => void;
  private _lastStatus: PublishedStatus | undefined;

  public constructor(channel: GuestChannel | SharedArrayBuffer, log: (line: string) => void = () => {}) {
    this.channel = channel instanceof GuestChannel ? channel : new GuestChannel(channel);
    this._ctl = this.channel.ctl;
    this._log = log;
  }

  // ---- RegisterWindow ----

  public get writeSeq(): number {
    return this.channel.regs.head;
  }

  public write(offset: number, size: 1 | 2 | 4, value: number): void {
    this._push(offset, size, value | 0, 0);
  }

  public write64(offset: number, value: bigint): void {
    this._push(offset, 8, Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n)));
  }

  public read(offset: number, size: 1 | 2 | 4): number {
    this._request(offset, size);
    return Atomics.load(this._ctl, Ctl.READ_LO) >>> 0;
  }

  public read64(offset: number): bigint {
    this._request(offset, 8);
    const lo = BigInt(Atomics.load(this._ctl, Ctl.READ_LO) >>> 0);
    const hi = BigInt(Atomics.load(this._ctl, Ctl.READ_HI) >>> 0);
    return (hi << 32n) | lo;
  }

  // ---- interrupts and control ----

  public get stopRequested(): boolean {
    return Atomics.load(this._ctl, Ctl.STOP) !== 0;
  }

  public get vblankSeq(): number {
    return Atomics.load(this._ctl, Ctl.VBLANK_SEQ);
  }

  public get vblankApplied(): number {
    return Atomics.load(this._ctl, Ctl.VBLANK_APPLIED);
  }

  /** The host → guest doorbell; pass it to `waitBell` to sleep until it changes. */
  public get bell(): number {
    return Atomics.load(this._ctl, Ctl.H2G_BELL);
  }

  /** Sleep until the host rings (vblank, input, stop) or `timeoutMs` passes. */
  public waitBell(seen: number, timeoutMs: number): void {
    Atomics.wait(this._ctl, Ctl.H2G_BELL, seen, timeoutMs);
  }

  public ackVblank(seq: number): void {
    Atomics.store(this._ctl, Ctl.VBLANK_ACK, seq);
  }

  /** Proof of life for the host's watchdog. */
  public heartbeat(): void {
    Atomics.add(this._ctl, Ctl.HEARTBEAT, 1);
  }

  public setState(s: GuestState): void {
    Atomics.store(this._ctl, Ctl.STATE, s);
    this.channel.ring(Ctl.G2H_BELL);
  }

  /** Hand every queued input event to `fn`; returns how many. */
  public drainInput(fn: (type: number, a: number, b: number, c: number) => void): number {
    return this.channel.input.drain(fn);
  }

  public log(line: string): void {
    this._log(line);
  }

  /** Publish status words; the host is woken only when something changed. */
  public publish(s: PublishedStatus): void {
    const p = this._lastStatus;
    if (p && p.booted === s.booted && p.activeVt === s.activeVt && p.vblanks === s.vblanks &&
        p.flips === s.flips && p.framesRendered === s.framesRendered && p.sessionRunning === s.sessionRunning &&
        p.animating === s.animating && p.width === s.width && p.height === s.height && p.format === s.format &&
        p.tiling === s.tiling && p.frontId === s.frontId && p.content === s.content) return;
    this._lastStatus = s;
    const c = this._ctl;
    const b = Ctl.STATUS;
    Atomics.store(c, b + St.BOOTED, s.booted ? 1 : 0);
    Atomics.store(c, b + St.ACTIVE_VT, s.activeVt);
    Atomics.store(c, b + St.VBLANKS, s.vblanks);
    Atomics.store(c, b + St.FLIPS, s.flips);
    Atomics.store(c, b + St.FRAMES, s.framesRendered);
    Atomics.store(c, b + St.SESSION, s.sessionRunning ? 1 : 0);
    Atomics.store(c, b + St.ANIMATING, s.animating ? 1 : 0);
    Atomics.store(c, b + St.WIDTH, s.width);
    Atomics.store(c, b + St.HEIGHT, s.height);
    Atomics.store(c, b + St.FORMAT, s.format | 0);
    Atomics.store(c, b + St.TILING, TILING_CODE[s.tiling]);
    Atomics.store(c, b + St.FRONT_ID, s.frontId);
    Atomics.store(c, b + St.CONTENT, s.content);
    Atomics.add(c, b + St.SEQ, 1);
    this.channel.ring(Ctl.G2H_BELL);
  }

  private _push(offset: number, size: number, lo: number, hi: number): void {
    const ring = this.channel.regs;
    while (!ring.tryPush(offset, size, lo, hi)) {
      // Full: make sure the host is awake, then wait for it to release slots.
      const tail = ring.tail;
      this.channel.ring(Ctl.G2H_BELL);
      Atomics.wait(this._ctl, ring.tailIndex, tail, 50);
      if (this.stopRequested) throw new GuestStoppedError();
      this.heartbeat(); // waiting on the host is not a hang
    }
    this.channel.ring(Ctl.G2H_BELL);
  }

  private _request(offset: number, size: number): void {
    const c = this._ctl;
    const req = (Atomics.load(c, Ctl.READ_REQ) + 1) | 0;
    Atomics.store(c, Ctl.READ_OFFSET, offset);
    Atomics.store(c, Ctl.READ_SIZE, size);
    Atomics.store(c, Ctl.READ_REQ, req);
    this.channel.ring(Ctl.G2H_BELL);
    for (;;) {
      const resp = Atomics.load(c, Ctl.READ_RESP);
      if (resp === req) return;
      if (this.stopRequested) throw new GuestStoppedError();
      if (Atomics.wait(c, Ctl.READ_RESP, resp, 50) === 'timed-out') this.heartbeat();
    }
  }
}
