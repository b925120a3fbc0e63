/**
 * Small hand-made SVG charts for the benchmark report: grouped bars and lines, linear or log
 * scale, with axes, ticks and a legend. Pure string building (no DOM), deterministic output.
 */

export interface Series {
  readonly name: string;
  readonly values: readonly number[];
  /** Drawn dashed (e.g. a limit line). */
  readonly dashed?: boolean;
}

export interface BarChartSpec {
  readonly title: string;
  readonly categories: readonly string[];
  readonly series: readonly Series[];
  readonly yLabel: string;
  readonly log?: boolean;
  /** Optional horizontal reference line (e.g. a target). */
  readonly target?: { readonly value: number; readonly label: string };
  /** Print values above bars (default true). */
  readonly labels?: boolean;
}

export interface LineChartSpec {
  readonly title: string;
  readonly x: readonly number[];
  readonly xLabel: string;
  readonly xLog?: boolean;
  readonly xTickLabels?: readonly string[];
  readonly series: readonly Series[];
  readonly yLabel: string;
  readonly yLog?: boolean;
  readonly target?: { readonly value: number; readonly label: string };
}

const W = 720;
const H = 360;
const M = { left: 72, right: 16, top: 40, bottom: 64 };
const COLORS = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#c53030', '#718096'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Compact number: 1.2k, 3.4M, 0.05 … */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a >= 100) return String(Math.round(v));
  if (a >= 1) return trim(v);
  if (a === 0) return '0';
  return String(Number(v.toPrecision(2)));
}

function trim(v: number): string {
  return String(Number(v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)));
}

interface Scale {
  map(v: number): number;
  ticks: number[];
}

function linearScale(min: number, max: number, from: number, to: number): Scale {
  const lo = Math.min(0, min);
  let hi = max > lo ? max : lo + 1;
  const step = niceStep((hi - lo) / 5);
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  const a = ticks[0]!;
  const b = ticks[ticks.length - 1]!;
  return { map: (v) => from + ((v - a) / (b - a || 1)) * (to - from), ticks };
}

function logScale(min: number, max: number, from: number, to: number): Scale {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-9)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, 1e-9))));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return {
    map: (v) => from + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (to - from),
    ticks,
  };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(s: Scale, label: string): string[] {
  const out: string[] = [];
  const x0 = M.left;
  for (const t of s.ticks) {
    const y = s.map(t).toFixed(1);
    out.push(`<line x1="${x0}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e2e8f0"/>`);
    out.push(`<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${x0}" x2="${x0}" y1="${M.top}" y2="${H - M.bottom}" stroke="#4a5568"/>`);
  out.push(`<line x1="${x0}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#4a5568"/>`);
  const cy = (M.top + H - M.bottom) / 2;
  out.push(`<text transform="translate(16 ${cy}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`);
  return out;
}

function legend(series: readonly Series[]): string[] {
  const out: string[] = [];
  let x = M.left;
  const y = H - 14;
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    out.push(s.dashed
      ? `<line x1="${x}" x2="${x + 14}" y1="${y - 4}" y2="${y - 4}" stroke="${c}" stroke-width="2" stroke-dasharray="4 3"/>`
      : `<rect x="${x}" y="${y - 10}" width="14" height="10" fill="${c}"/>`);
    out.push(`<text x="${x + 18}" y="${y}">${esc(s.name)}</text>`);
    x += 30 + s.name.length * 7;
  });
  return out;
}

function targetLine(s: Scale, t: { value: number; label: string } | undefined): string[] {
  if (!t) return [];
  const y = s.map(t.value).toFixed(1);
  return [
    `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#c53030" stroke-dasharray="6 4"/>`,
    `<text x="${M.left + 4}" y="${Number(y) - 4}" fill="#c53030">${esc(t.label)}</text>`,
  ];
}

export function barChart(spec: BarChartSpec): string {
  const all = spec.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  if (spec.target) all.push(spec.target.value);
  const top = M.top;
  const bottom = H - M.bottom;
  const pos = all.filter((v) => v > 0);
  const s = spec.log
    ? logScale(pos.length ? Math.min(...pos) : 1, Math.max(1, ...all), bottom, top)
    : linearScale(Math.min(0, ...all), Math.max(0, ...all), bottom, top);
  const body = yAxis(s, spec.yLabel);
  const n = spec.categories.length;
  const band = (W - M.left - M.right) / Math.max(1, n);
  const k = spec.series.length;
  const bw = Math.min(48, (band * 0.8) / Math.max(1, k));
  spec.categories.forEach((cat, ci) => {
    const cx = M.left + band * ci + band / 2;
    body.push(`<text x="${cx.toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${esc(cat)}</text>`);
    spec.series.forEach((ser, si) => {
      const v = ser.values[ci];
      if (v === undefined || !Number.isFinite(v)) return;
      const x = cx - (k * bw) / 2 + si * bw;
      const base = spec.log ? bottom : s.map(0);
      const y = s.map(spec.log ? Math.max(v, s.ticks[0]!) : v);
      const h = Math.abs(base - y);
      const c = COLORS[si % COLORS.length]!;
      body.push(`<rect x="${x.toFixed(1)}" y="${Math.min(y, base).toFixed(1)}" width="${(bw - 2).toFixed(1)}" ` +
        `height="${Math.max(0.5, h).toFixed(1)}" fill="${c}"><title>${esc(`${ser.name} ${cat}: ${v}`)}</title></rect>`);
      if (spec.labels ?? true) {
        body.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(Math.min(y, base) - 3).toFixed(1)}" ` +
          `text-anchor="middle" font-size="10">${fmt(v)}</text>`);
      }
    });
  });
  body.push(...targetLine(s, spec.target), ...legend(spec.series));
  return frame(spec.title, body);
}

export function lineChart(spec: LineChartSpec): string {
  const ys = spec.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  if (spec.target) ys.push(spec.target.value);
  const top = M.top;
  const bottom = H - M.bottom;
  // Room for the first and last x tick labels (e.g. "3840×2160") inside the frame.
  const left = M.left + 24;
  const right = W - M.right - 32;
  const posY = ys.filter((v) => v > 0);
  const sy = spec.yLog
    ? logScale(posY.length ? Math.min(...posY) : 1, Math.max(1, ...ys), bottom, top)
    : linearScale(Math.min(0, ...ys), Math.max(0, ...ys), bottom, top);
  const xs = spec.x;
  const xmin = Math.min(...xs);
  const xmax = Math.max(...xs);
  const mapX = spec.xLog
    ? (v: number): number => left + ((Math.log10(v) - Math.log10(xmin)) / (Math.log10(xmax) - Math.log10(xmin) || 1)) * (right - left)
    : (v: number): number => left + ((v - xmin) / (xmax - xmin || 1)) * (right - left);
  const body = yAxis(sy, spec.yLabel);
  xs.forEach((x, i) => {
    const px = mapX(x).toFixed(1);
    body.push(`<line x1="${px}" x2="${px}" y1="${bottom}" y2="${bottom + 4}" stroke="#4a5568"/>`);
    const label = spec.xTickLabels?.[i] ?? fmt(x);
    body.push(`<text x="${px}" y="${bottom + 16}" text-anchor="middle" font-size="10">${esc(label)}</text>`);
  });
  body.push(`<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  spec.series.forEach((ser, si) => {
    const c = COLORS[si % COLORS.length]!;
    const pts = ser.values
      .map((v, i) => [xs[i], v] as const)
      .filter(([x, v]) => x !== undefined && Number.isFinite(v) && (!spec.yLog || v > 0))
      .map(([x, v]) => `${mapX(x!).toFixed(1)},${sy.map(v).toFixed(1)}`);
    if (pts.length === 0) return;
    const dash = ser.dashed ? ' stroke-dasharray="6 4"' : '';
    body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="2"${dash}/>`);
    for (const p of pts) {
      const [px, py] = p.split(',');
      body.push(`<circle cx="${px}" cy="${py}" r="3" fill="${c}"/>`);
    }
  });
  body.push(...targetLine(sy, spec.target), ...legend(spec.series));
  return frame(spec.title, body);
}
