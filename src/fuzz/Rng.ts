/**
 * The fuzzers' seeded PRNG: xoshiro128** (Blackman & Vigna) on four 32-bit words, seeded through
 * splitmix32. Pure 32-bit integer arithmetic (no BigInt), so it is fast and gives the same stream
 * in Node, workers and browsers. Not for cryptography.
 *
 * Reproducibility: a stream is a pure function of its seed words. `Rng.derive(seed, a, b…)` gives
 * an independent stream per (seed, engine, epoch), so any epoch can be replayed on its own.
 */
export class Rng {
  private _a: number;
  private _b: number;
  private _c: number;
  private _d: number;

  /** Seed the state from one u32 through splitmix32 (an all-zero state cannot happen). */
  public constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this._a = next();
    this._b = next();
    this._c = next();
    this._d = next();
    if ((this._a | this._b | this._c | this._d) === 0) this._a = 1;
  }

  /** A generator with the given state words (test vectors). */
  public static fromState(a: number, b: number, c: number, d: number): Rng {
    const r = new Rng(0);
    r._a = a >>> 0;
    r._b = b >>> 0;
    r._c = c >>> 0;
    r._d = d >>> 0;
    return r;
  }

  /** A stream for `seed` and a path of keys (strings or integers): e.g. (seed, 'abi', epoch). */
  public static derive(seed: number, ...keys: Array<number | string>): Rng {
    let h = (seed >>> 0) ^ 0x5bd1e995;
    const mix = (x: number): void => {
      h = Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0;
      h = (h ^ (h >>> 15)) >>> 0;
    };
    for (const k of keys) {
      if (typeof k === 'number') {
        mix(k >>> 0);
        mix(Math.floor(k / 2 ** 32) >>> 0);
      } else {
        for (let i = 0; i < k.length; i++) mix(k.charCodeAt(i));
        mix(0xff);
      }
    }
    return new Rng(h);
  }

  /** Next u32. */
  public u32(): number {
    const r = Math.imul(rotl(Math.imul(this._b, 5), 7), 9) >>> 0;
    const t = this._b << 9;
    this._c ^= this._a;
    this._d ^= this._b;
    this._b ^= this._c;
    this._a ^= this._d;
    this._c ^= t;
    this._d = rotl(this._d, 11);
    return r;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (rejection sampling: no modulo bias). */
  public int(n: number): number {
    if (!(n >= 1)) return 0;
    if (n > 0xffffffff) return this.u32();
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.u32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (inclusive); up to 2^53 wide. */
  public range(lo: number, hi: number): number {
    const span = hi - lo + 1;
    if (span <= 0x100000000) return lo + this.int(span);
    return lo + Math.floor(this.float() * span);
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  public float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** True with probability p. */
  public chance(p: number): boolean {
    return this.float() < p;
  }

  public bool(): boolean {
    return (this.u32() & 1) === 1;
  }

  public pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Pick by weight: `[[weight, value], …]`. */
  public weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of table) total += w;
    let x = this.float() * total;
    for (const [w, v] of table) {
      if (x < w) return v;
      x -= w;
    }
    return table[table.length - 1]![1];
  }

  /** Small sizes are likelier than big ones: an exponent then a mantissa, in [0, max]. */
  public size(max: number): number {
    const bits = Math.ceil(Math.log2(max + 1));
    const b = this.int(bits + 1);
    return Math.min(max, b === 0 ? 0 : this.range(2 ** (b - 1), 2 ** b - 1));
  }

  public bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = this.u32();
      out[i] = x;
      if (i + 1 < n) out[i + 1] = x >>> 8;
      if (i + 2 < n) out[i + 2] = x >>> 16;
      if (i + 3 < n) out[i + 3] = x >>> 24;
    }
    return out;
  }

  /** 64 random bits. */
  public u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
