import type { Surface } from './Surface.ts';

export type CursorShape = 'arrow' | 'crosshair';

// An arrow pointer, 12×19 at scale 1: B = outline, W = fill, '.' = transparent. Tip at (0, 0).
const ARROW = [
  'B...........',
  'BB..........',
  'BWB.........',
  'BWWB........',
  'BWWWB.......',
  'BWWWWB......',
  'BWWWWWB.....',
  'BWWWWWWB....',
  'BWWWWWWWB...',
  'BWWWWWWWWB..',
  'BWWWWWWWWWB.',
  'BWWWWWWBBBBB',
  'BWWWBWWB....',
  'BWWB.BWWB...',
  'BWB..BWWB...',
  'BB....BWWB..',
  'B.....BWWB..',
  '.......BWWB.',
  '.......BBB..',
];

const OUTLINE = 0xff000000;
const FILL = 0xffffffff;
const SHADOW = 0x50000000;

/**
 * Draw a cursor image into a 64×64 ARGB8888 surface (transparent elsewhere) and return its
 * hotspot: the arrow's tip (0, 0), or the crosshair's centre (31, 31).
 */
export function drawCursorImage(s: Surface, shape: CursorShape): { hotX: number; hotY: number } {
  const n = s.width;
  const img = new Uint32Array(n * s.height);
  if (shape === 'arrow') {
    const scale = 2;
    // Soft shadow first, offset down-right, then the arrow over it.
    const passes = [[2, () => SHADOW], [0, (c: string) => (c === 'B' ? OUTLINE : FILL)]] as const;
    for (const [dx, colourOf] of passes) {
      ARROW.forEach((row, y) => {
        for (let x = 0; x < row.length; x++) {
          const c = row[x]!;
          if (c === '.') continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const px = x * scale + sx + dx;
              const py = y * scale + sy + dx;
              if (px < n && py < s.height) img[py * n + px] = colourOf(c);
            }
          }
        }
      });
    }
    s.blit(0, 0, n, s.height, img, n);
    return { hotX: 0, hotY: 0 };
  }
  const c = 31;
  const put = (x: number, y: number, v: number): void => { img[y * n + x] = v; };
  for (let i = 8; i <= 54; i++) {
    if (Math.abs(i - c) < 4) continue; // open centre so the target stays visible
    for (let t = -2; t <= 2; t++) {
      const v = Math.abs(t) === 2 ? OUTLINE : FILL;
      put(i, c + t, v);
      put(c + t, i, v);
    }
  }
  put(c, c, OUTLINE);
  s.blit(0, 0, n, s.height, img, n);
  return { hotX: c, hotY: c };
}
