import { SpscRing } from './SpscRing.ts';

/**
 * The shared memory between a guest worker and the host (one SharedArrayBuffer of Int32 words):
 *  - control words: doorbells in both directions, the vblank counter, stop flag, heartbeat,
 *    guest state, and a one-entry mailbox for synchronous register reads;
 *  - status words the guest publishes (what `GuestStatus` says) for the host's waitFor helpers;
 *  - the register-write ring (guest → host, slots {offset, size, value lo, value hi});
 *  - the input ring (host → guest, slots {type, a, b, c}).
 */
export const enum Ctl {
  /** Guest → host: bumped (and notified) whenever the host has something to look at. */
  G2H_BELL = 0,
  /** Host → guest: bumped (and notified) on vblank, input and stop. */
  H2G_BELL = 1,
  VBLANK_SEQ = 2,
  /** Register writes (ring tail) the device had applied when the last vblank latched. */
  VBLANK_APPLIED = 3,
  STOP = 4,
  HEARTBEAT = 5,
  STATE = 6,
  VBLANK_ACK = 7,
  READ_REQ = 8,
  READ_RESP = 9,
  READ_OFFSET = 10,
  READ_SIZE = 11,
  READ_LO = 12,
  READ_HI = 13,
  /** Input events dropped because the guest did not drain its ring. */
  INPUT_DROPPED = 14,
  STATUS = 16,
}

/** Status words, relative to Ctl.STATUS. */
export const enum St {
  SEQ = 0,
  BOOTED = 1,
  ACTIVE_VT = 2,
  VBLANKS = 3,
  FLIPS = 4,
  FRAMES = 5,
  SESSION = 6,
  ANIMATING = 7,
  WIDTH = 8,
  HEIGHT = 9,
  FORMAT = 10,
  TILING = 11,
  FRONT_ID = 12,
  /** Bumped whenever the guest drew something (fbcon cells, session frames, plane changes). */
  CONTENT = 13,
  COUNT = 16,
}

export const enum GuestState {
  STARTING = 0,
  BOOTING = 1,
  RUNNING = 2,
  HALTED = 3,
}

export const enum InputType {
  KEY = 1,
  REL = 2,
  ABS = 3,
}

const CTL_WORDS = 64;
const REG_SLOT_WORDS = 4;
const INPUT_SLOT_WORDS = 4;

export interface ChannelShape {
  readonly regSlots: number;
  readonly inputSlots: number;
}

/** Views over one channel buffer; both sides construct it over the same SharedArrayBuffer. */
export class GuestChannel {
  public readonly buffer: SharedArrayBuffer;
  public readonly ctl: Int32Array;
  public readonly regs: SpscRing;
  public readonly input: SpscRing;
  public readonly shape: ChannelShape;

  public constructor(shapeOrBuffer: ChannelShape | SharedArrayBuffer) {
    const shape: ChannelShape = shapeOrBuffer instanceof SharedArrayBuffer
      ? GuestChannel._readShape(shapeOrBuffer) : shapeOrBuffer;
    const regWords = SpscRing.words(shape.regSlots, REG_SLOT_WORDS);
    const words = CTL_WORDS + regWords + SpscRing.words(shape.inputSlots, INPUT_SLOT_WORDS);
    this.buffer = shapeOrBuffer instanceof SharedArrayBuffer ? shapeOrBuffer : new SharedArrayBuffer(words * 4);
    if (this.buffer.byteLength < words * 4) throw new RangeError('channel buffer too small');
    this.ctl = new Int32Array(this.buffer);
    this.shape = shape;
    if (!(shapeOrBuffer instanceof SharedArrayBuffer)) {
      this.ctl[CTL_WORDS - 2] = shape.regSlots;
      this.ctl[CTL_WORDS - 1] = shape.inputSlots;
    }
    this.regs = new SpscRing(this.ctl, CTL_WORDS, shape.regSlots, REG_SLOT_WORDS);
    this.input = new SpscRing(this.ctl, CTL_WORDS + regWords, shape.inputSlots, INPUT_SLOT_WORDS);
  }

  public load(i: number): number {
    return Atomics.load(this.ctl, i);
  }

  public status(i: St): number {
    return Atomics.load(this.ctl, Ctl.STATUS + i);
  }

  /** Bump a doorbell and wake whoever waits on it. */
  public ring(bell: Ctl.G2H_BELL | Ctl.H2G_BELL): void {
    Atomics.add(this.ctl, bell, 1);
    Atomics.notify(this.ctl, bell);
  }

  private static _readShape(buf: SharedArrayBuffer): ChannelShape {
    const i32 = new Int32Array(buf, 0, CTL_WORDS);
    return { regSlots: i32[CTL_WORDS - 2]!, inputSlots: i32[CTL_WORDS - 1]! };
  }
}
