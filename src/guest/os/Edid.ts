import { Errno } from '../../base/Errno.ts';
import type { DisplayMode } from './DisplayDriver.ts';

export interface EdidInfo {
  /** Modes, preferred (the first detailed timing) first, without duplicates. */
  readonly modes: DisplayMode[];
  /** Monitor name descriptor (tag 0xFC), if present. */
  readonly name?: string;
}

const HEADER = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];

// Established timings I and II (bytes 35, 36; bit 7 first).
const ESTABLISHED: ReadonlyArray<readonly [number, number, number]> = [
  [720, 400, 70], [720, 400, 88], [640, 480, 60], [640, 480, 67],
  [640, 480, 72], [640, 480, 75], [800, 600, 56], [800, 600, 60],
  [800, 600, 72], [800, 600, 75], [832, 624, 75], [1024, 768, 87],
  [1024, 768, 60], [1024, 768, 70], [1024, 768, 75], [1280, 1024, 75],
];

/**
 * Parse an EDID 1.x base block (128 bytes): detailed timings (the first is the preferred mode),
 * standard timings and established timings. Returns -EINVAL for a bad header or checksum.
 */
export function parseEdid(b: Uint8Array): EdidInfo | number {
  if (b.length < 128) return -Errno.EINVAL;
  for (let i = 0; i < 8; i++) if (b[i] !== HEADER[i]) return -Errno.EINVAL;
  let sum = 0;
  for (let i = 0; i < 128; i++) sum = (sum + b[i]!) & 0xff;
  if (sum !== 0) return -Errno.EINVAL;
  const modes: DisplayMode[] = [];
  const add = (m: DisplayMode): void => {
    if (m.width <= 0 || m.height <= 0) return;
    if (!modes.some((x) => x.width === m.width && x.height === m.height)) modes.push(m);
  };
  let name: string | undefined;
  for (let d = 54; d < 126; d += 18) {
    const clock = (b[d]! | (b[d + 1]! << 8)) * 10_000;
    if (clock !== 0) {
      const hActive = b[d + 2]! | ((b[d + 4]! & 0xf0) << 4);
      const hBlank = b[d + 3]! | ((b[d + 4]! & 0x0f) << 8);
      const vActive = b[d + 5]! | ((b[d + 7]! & 0xf0) << 4);
      const vBlank = b[d + 6]! | ((b[d + 7]! & 0x0f) << 8);
      const total = (hActive + hBlank) * (vActive + vBlank);
      add({ width: hActive, height: vActive, refresh: total ? Math.round(clock / total) : undefined });
    } else if (b[d + 3] === 0xfc) {
      let s = '';
      for (let i = d + 5; i < d + 18 && b[i] !== 0x0a; i++) s += String.fromCharCode(b[i]!);
      name = s.trim();
    }
  }
  for (let i = 38; i < 54; i += 2) {
    if (b[i] === 0x01 && b[i + 1] === 0x01) continue;
    if (b[i] === 0x00) continue;
    const w = (b[i]! + 31) * 8;
    const aspect = b[i + 1]! >> 6;
    // Aspect bits: 16:10, 4:3, 5:4, 16:9.
    const h = [(w * 10) / 16, (w * 3) / 4, (w * 4) / 5, (w * 9) / 16][aspect]!;
    add({ width: w, height: Math.round(h), refresh: (b[i + 1]! & 0x3f) + 60 });
  }
  for (let i = 0; i < 16; i++) {
    if (b[35 + (i >> 3)]! & (0x80 >> (i & 7))) {
      const [w, h, r] = ESTABLISHED[i]!;
      add({ width: w, height: h, refresh: r });
    }
  }
  return name === undefined ? { modes } : { modes, name };
}
