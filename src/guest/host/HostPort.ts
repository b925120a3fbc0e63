import { Ctl, GuestChannel, InputType } from './GuestChannel.ts';

/** The mediator's side of a guest's register window. */
export interface MmioTarget {
  /** A register read; 8-byte reads return a BigInt. Must not throw for any offset. */
  read(offset: number, size: number): number | bigint;
  /** A register write (value unsigned; a BigInt for 8-byte writes). Must not throw. */
  write(offset: number, size: number, value: number | bigint): void;
  /** Vblank: pending state latches (called after every earlier write was applied). */
  vblank?(): void;
}

/**
 * Guests owed a vblank interrupt. Waking a guest's thread is a futex wake (tens of µs in a VM);
 * on real hardware the guest's interrupt is injected by another CPU and never delays the VMM's
 * display IRQ handler, so the host rings these doorbells together after the task that ran the
 * vblanks (and the display refreshes and sends it triggered) — one ring per guest per turn.
 */
const owed = new Set<HostPort>();
let ringQueued = false;

function ringOwed(): void {
  ringQueued = false;
  for (const p of owed) p.channel.ring(Ctl.H2G_BELL);
  owed.clear();
}

/**
 * The host's end of the channel: applies the guest's register writes to the mediator in ring
 * order, answers register reads (after the writes before them), delivers vblank interrupts and
 * input events. It never blocks.
 */
export class HostPort {
  public readonly channel: GuestChannel;
  /** Register writes applied so far. */
  public writesApplied = 0;
  public readsAnswered = 0;
  private readonly _mmio: MmioTarget;
  private readonly _apply = (offset: number, size: number, lo: number, hi: number): void => {
    const value = size === 8 ? (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
      : size === 4 ? lo >>> 0 : lo & ((1 << (size * 8)) - 1);
    this._mmio.write(offset >>> 0, size, value);
  };

  public constructor(channel: GuestChannel, mmio: MmioTarget) {
    this.channel = channel;
    this._mmio = mmio;
  }

  /** Apply queued writes, then answer a pending read. Returns true if anything was done. */
  public pump(): boolean {
    const ch = this.channel;
    const n = ch.regs.drain(this._apply);
    if (n > 0) {
      this.writesApplied += n;
      // Wake a guest waiting for ring space.
      Atomics.notify(ch.ctl, ch.regs.tailIndex);
    }
    const req = Atomics.load(ch.ctl, Ctl.READ_REQ);
    if (req === Atomics.load(ch.ctl, Ctl.READ_RESP)) return n > 0;
    // Writes that raced in after the drain above still precede this read in program order.
    const more = ch.regs.drain(this._apply);
    this.writesApplied += more;
    const offset = Atomics.load(ch.ctl, Ctl.READ_OFFSET) >>> 0;
    const size = Atomics.load(ch.ctl, Ctl.READ_SIZE);
    const v = this._mmio.read(offset, size);
    let lo: number;
    let hi = 0;
    if (typeof v === 'bigint') {
      lo = Number(BigInt.asIntN(32, v));
      hi = Number(BigInt.asIntN(32, v >> 32n));
    } else {
      lo = v | 0;
      hi = size === 8 ? Math.floor(v / 2 ** 32) | 0 : 0;
    }
    Atomics.store(ch.ctl, Ctl.READ_LO, lo);
    Atomics.store(ch.ctl, Ctl.READ_HI, hi);
    Atomics.store(ch.ctl, Ctl.READ_RESP, req);
    Atomics.notify(ch.ctl, Ctl.READ_RESP);
    this.readsAnswered++;
    return true;
  }

  /**
   * A vblank: apply pending writes, let the device latch, then interrupt the guest. The vblank is
   * published at once; the doorbell that wakes the guest's thread rings once this task is done
   * (see `owed`), after the host's own display IRQ handlers.
   */
  public vblank(): void {
    this.pump();
    this._mmio.vblank?.();
    const ctl = this.channel.ctl;
    Atomics.store(ctl, Ctl.VBLANK_APPLIED, this.channel.regs.tail);
    Atomics.add(ctl, Ctl.VBLANK_SEQ, 1);
    owed.add(this);
    if (!ringQueued) {
      ringQueued = true;
      setImmediate(ringOwed);
    }
  }

  /** Queue an input event; false (and counted) when the guest's ring is full. */
  public input(type: InputType, a: number, b: number, c = 0): boolean {
    const ok = this.channel.input.tryPush(type, a, b, c);
    if (!ok) Atomics.add(this.channel.ctl, Ctl.INPUT_DROPPED, 1);
    else this.channel.ring(Ctl.H2G_BELL);
    return ok;
  }

  /** Ask the guest to halt; wakes it wherever it waits on the host. */
  public requestStop(): void {
    const ctl = this.channel.ctl;
    Atomics.store(ctl, Ctl.STOP, 1);
    this.channel.ring(Ctl.H2G_BELL);
    Atomics.notify(ctl, Ctl.READ_RESP);
    Atomics.notify(ctl, this.channel.regs.tailIndex);
  }
}
