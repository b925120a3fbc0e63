/** A figure measured in several runs: the median, and the smallest and largest run. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Median (the mean of the middle two for an even count); NaN for no values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spread(xs: readonly number[], digits = 2): Spread {
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { median: round(median(xs), digits), min: round(min, digits), max: round(max, digits), runs: xs.length };
}

/** The q-quantile by the nearest-rank method (q in [0, 1]); NaN for no values. */
export function quantile(xs: readonly number[] | Float64Array, q: number): number {
  if (xs.length === 0) return NaN;
  const s = xs instanceof Float64Array ? xs.slice().sort() : Float64Array.from(xs).sort();
  const rank = Math.ceil(q * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let t = 0;
  for (const x of xs) t += x;
  return t / xs.length;
}

/** Least-squares slope of y over x (NaN with fewer than two distinct x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** Run `fn` for every rep index and collect the results (reps in order, nothing concurrent). */
export function repeat<T>(reps: number, fn: (rep: number) => T): T[] {
  const out: T[] = [];
  for (let r = 0; r < reps; r++) out.push(fn(r));
  return out;
}

/** The spread of one numeric field over a list of run results. */
export function spreadOf<T>(runs: readonly T[], pick: (r: T) => number, digits = 2): Spread {
  return spread(runs.map(pick), digits);
}
