/**
 * EDID 1.4 base block (128 bytes): the virtual monitor a device's EDID region presents. One
 * detailed timing descriptor (the preferred mode, CVT reduced-blanking-like timings), a monitor
 * name, no extension blocks.
 */
export const EDID_BLOCK_SIZE = 128;

const HEADER = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
const DESCRIPTORS = [54, 72, 90, 108];
const DESCRIPTOR_SIZE = 18;
/** 'VGD' in the three 5-bit letters of the manufacturer id. */
const MANUFACTURER = 'VGD';
const PRODUCT_CODE = 0x0001;
const MAX_DTD = 4095; // 12-bit active/blank fields
const MAX_PIXEL_CLOCK_10KHZ = 0xffff;

export interface EdidOptions {
  readonly width: number;
  readonly height: number;
  /** Vertical refresh of the preferred mode; default 60. */
  readonly refreshHz?: number;
  /** Monitor name descriptor: printable ASCII, up to 13 characters; default 'vgpu-display'. */
  readonly name?: string;
}

export interface DetailedTiming {
  /** Pixel clock in units of 10 kHz. */
  readonly clock10kHz: number;
  readonly hActive: number;
  readonly hBlank: number;
  readonly hFront: number;
  readonly hSync: number;
  readonly vActive: number;
  readonly vBlank: number;
  readonly vFront: number;
  readonly vSync: number;
}

/** CVT v1 vertical sync width by aspect ratio (4:3, 16:9, 16:10, 5:4 / 15:9, other). */
function cvtVsync(w: number, h: number): number {
  if (w * 3 === h * 4) return 4;
  if (w * 9 === h * 16) return 5;
  if (w * 10 === h * 16) return 6;
  if (w * 4 === h * 5 || w * 9 === h * 15) return 7;
  return 10;
}

/**
 * CVT reduced blanking (v1): fixed 160-pixel horizontal blank (48 front, 32 sync), at least 460 µs
 * of vertical blank with 3 lines front porch and ≥ 6 lines back porch; clock in 0.25 MHz steps
 * (rounded down, so the real refresh is a little under the request).
 */
export function cvtReducedBlanking(width: number, height: number, refreshHz: number): DetailedTiming {
  const hBlank = 160;
  const vFront = 3;
  const vSync = cvtVsync(width, height);
  const hPeriodUs = (1e6 / refreshHz - 460) / height;
  const vBlank = Math.max(Math.floor(460 / hPeriodUs) + 1, vFront + vSync + 6);
  const clockHz = refreshHz * (width + hBlank) * (height + vBlank);
  // Tiny modes would round to 0, which marks a descriptor as "not a timing": keep ≥ 10 kHz.
  const stepped = Math.floor(clockHz / 250_000) * 25;
  const clock10kHz = stepped > 0 ? stepped : Math.max(1, Math.round(clockHz / 10_000));
  return { clock10kHz, hActive: width, hBlank, hFront: 48, hSync: 32, vActive: height, vBlank, vFront, vSync };
}

function isDim(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_DTD;
}

function mm(px: number): number {
  return Math.round((px * 25.4) / 96); // a 96 dpi panel
}

function writeDtd(out: Uint8Array, at: number, t: DetailedTiming, wMm: number, hMm: number): void {
  const hSyncOff = t.hFront;
  const vSyncOff = t.vFront;
  out[at] = t.clock10kHz & 0xff;
  out[at + 1] = t.clock10kHz >> 8;
  out[at + 2] = t.hActive & 0xff;
  out[at + 3] = t.hBlank & 0xff;
  out[at + 4] = ((t.hActive >> 8) << 4) | (t.hBlank >> 8);
  out[at + 5] = t.vActive & 0xff;
  out[at + 6] = t.vBlank & 0xff;
  out[at + 7] = ((t.vActive >> 8) << 4) | (t.vBlank >> 8);
  out[at + 8] = hSyncOff & 0xff;
  out[at + 9] = t.hSync & 0xff;
  out[at + 10] = ((vSyncOff & 0xf) << 4) | (t.vSync & 0xf);
  out[at + 11] = ((hSyncOff >> 8) << 6) | ((t.hSync >> 8) << 4) | ((vSyncOff >> 4) << 2) | (t.vSync >> 4);
  out[at + 12] = wMm & 0xff;
  out[at + 13] = hMm & 0xff;
  out[at + 14] = ((wMm >> 8) << 4) | (hMm >> 8);
  out[at + 15] = 0; // no borders
  out[at + 16] = 0;
  // Digital separate sync; CVT-RB polarity is +hsync, -vsync.
  out[at + 17] = 0x18 | 0x02;
}

function writeTextDescriptor(out: Uint8Array, at: number, tag: number, text: string): void {
  out.fill(0, at, at + DESCRIPTOR_SIZE);
  out[at + 3] = tag;
  const s = text.replace(/[^\x20-\x7e]/g, '?').slice(0, 13);
  for (let i = 0; i < 13; i++) {
    out[at + 5 + i] = i < s.length ? s.charCodeAt(i) : i === s.length ? 0x0a : 0x20;
  }
}

function chromaticity(out: Uint8Array): void {
  // sRGB primaries and D65 white, as 10-bit binary fractions split into high 8 + low 2 bits.
  const xy = [0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329].map((v) => Math.round(v * 1024));
  const lo = (i: number): number => xy[i]! & 3;
  out[25] = (lo(0) << 6) | (lo(1) << 4) | (lo(2) << 2) | lo(3);
  out[26] = (lo(4) << 6) | (lo(5) << 4) | (lo(6) << 2) | lo(7);
  for (let i = 0; i < 8; i++) out[27 + i] = xy[i]! >> 2;
}

/**
 * Build a valid EDID 1.4 base block whose preferred (first detailed) timing is width×height at
 * refreshHz. Throws RangeError for a mode a detailed timing cannot express (sizes 1..4095, pixel
 * clock ≤ 655.35 MHz) — this is configuration, not guest input. edid-decode passes the output
 * for real modes; below a 10 MHz clock (smaller than ~400x300@60) it is structurally valid but
 * edid-decode flags the clock.
 */
export function buildEdid(opts: EdidOptions): Uint8Array {
  const { width, height } = opts;
  const refresh = opts.refreshHz ?? 60;
  if (!isDim(width) || !isDim(height)) {
    throw new RangeError(`EDID: mode ${width}x${height} outside 1..${MAX_DTD}`);
  }
  if (!Number.isFinite(refresh) || refresh <= 0 || 1e6 / refresh <= 460) {
    throw new RangeError(`EDID: refresh ${refresh} Hz not representable`);
  }
  const t = cvtReducedBlanking(width, height, refresh);
  if (t.clock10kHz > MAX_PIXEL_CLOCK_10KHZ || t.clock10kHz < 1 || t.vBlank > MAX_DTD) {
    throw new RangeError(`EDID: ${width}x${height}@${refresh} needs a pixel clock above 655.35 MHz`);
  }

  const e = new Uint8Array(EDID_BLOCK_SIZE);
  e.set(HEADER, 0);
  const m = MANUFACTURER;
  const mfg = ((m.charCodeAt(0) - 64) << 10) | ((m.charCodeAt(1) - 64) << 5) | (m.charCodeAt(2) - 64);
  e[8] = mfg >> 8; // big-endian, unlike everything else
  e[9] = mfg & 0xff;
  e[10] = PRODUCT_CODE & 0xff;
  e[11] = PRODUCT_CODE >> 8;
  // Serial number 12..15 = 0 (a name descriptor identifies the monitor instead).
  e[16] = 1; // week of manufacture
  e[17] = 2024 - 1990; // year
  e[18] = 1; // EDID version 1.4
  e[19] = 4;
  e[20] = 0xa0; // digital input, 8 bits per colour, interface undefined
  const wMm = mm(width);
  const hMm = mm(height);
  e[21] = Math.min(255, Math.max(1, Math.round(wMm / 10))); // screen size, cm
  e[22] = Math.min(255, Math.max(1, Math.round(hMm / 10)));
  e[23] = 120; // gamma 2.2: (2.2 × 100) − 100
  // RGB 4:4:4, sRGB is the default colour space, preferred timing is the native mode.
  e[24] = 0x06;
  chromaticity(e);
  e[35] = 0x20; // established timing: 640x480@60
  e[36] = 0;
  e[37] = 0;
  for (let i = 38; i < 54; i++) e[i] = 0x01; // eight unused standard timings (0x0101)

  writeDtd(e, DESCRIPTORS[0]!, t, Math.min(wMm, MAX_DTD), Math.min(hMm, MAX_DTD));
  writeTextDescriptor(e, DESCRIPTORS[1]!, 0xfc, opts.name ?? 'vgpu-display');
  e[DESCRIPTORS[2]! + 3] = 0x10; // dummy descriptors
  e[DESCRIPTORS[3]! + 3] = 0x10;
  e[126] = 0; // no extension blocks
  let sum = 0;
  for (let i = 0; i < 127; i++) sum += e[i]!;
  e[127] = (256 - (sum & 0xff)) & 0xff;
  return e;
}

/** Header present, at least 128 bytes, and the first 128 bytes sum to 0 mod 256. */
export function validateEdid(bytes: Uint8Array): boolean {
  if (bytes.byteLength < EDID_BLOCK_SIZE) return false;
  for (let i = 0; i < HEADER.length; i++) if (bytes[i] !== HEADER[i]) return false;
  let sum = 0;
  for (let i = 0; i < EDID_BLOCK_SIZE; i++) sum += bytes[i]!;
  return (sum & 0xff) === 0;
}

/** The first detailed timing descriptor of a valid block, decoded. */
export function firstDetailedTiming(bytes: Uint8Array): DetailedTiming | undefined {
  if (!validateEdid(bytes)) return undefined;
  for (const at of DESCRIPTORS) {
    const clock = bytes[at]! | (bytes[at + 1]! << 8);
    if (clock === 0) continue; // a display descriptor, not a timing
    const b = (i: number): number => bytes[at + i]!;
    return {
      clock10kHz: clock,
      hActive: b(2) | ((b(4) >> 4) << 8),
      hBlank: b(3) | ((b(4) & 0xf) << 8),
      vActive: b(5) | ((b(7) >> 4) << 8),
      vBlank: b(6) | ((b(7) & 0xf) << 8),
      hFront: b(8) | (((b(11) >> 6) & 3) << 8),
      hSync: b(9) | (((b(11) >> 4) & 3) << 8),
      vFront: (b(10) >> 4) | (((b(11) >> 2) & 3) << 4),
      vSync: (b(10) & 0xf) | ((b(11) & 3) << 4),
    };
  }
  return undefined;
}

/** The preferred mode: the first detailed timing's active size; undefined for an invalid block. */
export function preferredMode(bytes: Uint8Array): { width: number; height: number } | undefined {
  const t = firstDetailedTiming(bytes);
  return t === undefined ? undefined : { width: t.hActive, height: t.vActive };
}
