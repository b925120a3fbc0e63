/** Tables for the report (Markdown) and the terminal (aligned text). */

export type Align = 'l' | 'r';

export function mdTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly Align[]): string {
  const a = headers.map((_, i) => align?.[i] ?? (i === 0 ? 'l' : 'r'));
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `| ${headers.map(cell).join(' | ')} |`,
    `|${a.map((x) => (x === 'r' ? '---:' : ':---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function textTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, indent = '  '): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    indent + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** 1234567 → "1 234 567" (thin groups, unambiguous in any locale). */
export function int(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const s = String(Math.round(Math.abs(n)));
  const g = s.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return n < 0 ? `-${g}` : g;
}

/** A number with `d` decimals ('–' when not finite). */
export function num(n: number, d = 2): string {
  return Number.isFinite(n) ? n.toFixed(d) : '–';
}

/** "median (min–max)". */
export function mmm(s: { median: number; min: number; max: number }, d = 2): string {
  if (!Number.isFinite(s.median)) return '–';
  if (s.min === s.max) return num(s.median, d);
  return `${num(s.median, d)} (${num(s.min, d)}–${num(s.max, d)})`;
}

/** Bytes in B / KB / MB (decimal). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)} KB`;
  return `${Math.round(n)} B`;
}
