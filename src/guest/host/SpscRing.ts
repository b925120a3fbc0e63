/**
 * A single-producer single-consumer ring of fixed-size Int32 slots inside a SharedArrayBuffer.
 * `head` and `tail` are free-running Int32 counters (wrapping), so `head - tail` is the fill level
 * and the counters double as "items produced / consumed so far". The producer writes a slot, then
 * publishes it with an Atomics.store of head; the consumer reads slots up to head, then releases
 * them with an Atomics.store of tail (sequentially consistent, so slot contents are visible).
 * No Node APIs: both the worker and the host use it.
 */
export class SpscRing {
  public readonly capacity: number;
  public readonly slotWords: number;
  private readonly _i32: Int32Array;
  private readonly _head: number;
  private readonly _tail: number;
  private readonly _slots: number;
  private readonly _mask: number;

  /** `base`: Int32 index of the header (head, tail), followed by the slots. */
  public constructor(i32: Int32Array, base: number, capacity: number, slotWords: number) {
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`ring capacity must be a power of two, got ${capacity}`);
    }
    this._i32 = i32;
    this._head = base;
    this._tail = base + 1;
    this._slots = base + 2;
    this.capacity = capacity;
    this.slotWords = slotWords;
    this._mask = capacity - 1;
    if (this._slots + capacity * slotWords > i32.length) throw new RangeError('ring does not fit its buffer');
  }

  /** Int32 words a ring of this shape occupies. */
  public static words(capacity: number, slotWords: number): number {
    return 2 + capacity * slotWords;
  }

  public get head(): number {
    return Atomics.load(this._i32, this._head);
  }

  public get tail(): number {
    return Atomics.load(this._i32, this._tail);
  }

  public get size(): number {
    return (this.head - this.tail) | 0;
  }

  /** Index of the tail word, for Atomics.wait/notify by a producer waiting for room. */
  public get tailIndex(): number {
    return this._tail;
  }

  /** Producer: append one slot; false when the ring is full. */
  public tryPush(a: number, b: number, c: number, d: number): boolean {
    const head = Atomics.load(this._i32, this._head);
    if (((head - Atomics.load(this._i32, this._tail)) | 0) >= this.capacity) return false;
    const s = this._slots + (head & this._mask) * this.slotWords;
    const i32 = this._i32;
    i32[s] = a;
    if (this.slotWords > 1) i32[s + 1] = b;
    if (this.slotWords > 2) i32[s + 2] = c;
    if (this.slotWords > 3) i32[s + 3] = d;
    Atomics.store(i32, this._head, (head + 1) | 0);
    return true;
  }

  /**
   * Consumer: hand up to `max` slots to `fn` in order and release them; returns how many. Slots
   * are released in one store at the end, so `fn` sees them before a waiting producer can reuse
   * them.
   */
  public drain(fn: (a: number, b: number, c: number, d: number) => void, max = Infinity): number {
    const i32 = this._i32;
    let tail = Atomics.load(i32, this._tail);
    const head = Atomics.load(i32, this._head);
    let n = 0;
    while (tail !== head && n < max) {
      const s = this._slots + (tail & this._mask) * this.slotWords;
      fn(i32[s]!, i32[s + 1] ?? 0, i32[s + 2] ?? 0, i32[s + 3] ?? 0);
      tail = (tail + 1) | 0;
      n++;
    }
    if (n > 0) Atomics.store(i32, this._tail, tail);
    return n;
  }
}
