import { FONT_HEIGHT, FONT_WIDTH, matchGlyph } from './Font8x16.ts';
import type { Surface } from './Surface.ts';

/** Printed for a cell that matches no glyph. */
export const OCR_UNKNOWN = '\ufffd';

/**
 * Read text from pixels laid out as an 8×16 character grid starting at (x0, y0). Each cell's
 * top-left pixel is its background (row 0 of every glyph is blank), and every pixel that differs
 * from it is ink; so colours do not matter, and an inverted cell (the text cursor) reads as the
 * character under it. Trailing spaces are trimmed from each line.
 */
export function ocrGrid(pixelAt: (x: number, y: number) => number, cols: number, rows: number,
  x0 = 0, y0 = 0): string[] {
  const lines: string[] = [];
  const bits = new Uint8Array(FONT_HEIGHT);
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      const cx = x0 + c * FONT_WIDTH;
      const cy = y0 + r * FONT_HEIGHT;
      const bg = pixelAt(cx, cy);
      for (let y = 0; y < FONT_HEIGHT; y++) {
        let v = 0;
        for (let x = 0; x < FONT_WIDTH; x++) if (pixelAt(cx + x, cy + y) !== bg) v |= 0x80 >>> x;
        bits[y] = v;
      }
      const code = matchGlyph(bits);
      line += code === undefined ? OCR_UNKNOWN : String.fromCharCode(code);
    }
    lines.push(line.replace(/ +$/, ''));
  }
  return lines;
}

/** The text of a console surface: the grid fbcon uses, cols = width/8, rows = height/16. */
export function surfaceText(surface: Surface): string[] {
  return ocrGrid((x, y) => surface.getRaw(x, y), Math.floor(surface.width / FONT_WIDTH),
    Math.floor(surface.height / FONT_HEIGHT));
}
