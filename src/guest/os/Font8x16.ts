/**
 * The console font: 8×16 pixels, printable ASCII 0x20–0x7E, designed for this project. Each glyph
 * is 16 rows of one byte, bit 7 = leftmost pixel. Row 0 is blank in every glyph, so an OCR pass
 * can take a cell's top-left pixel as its background colour (an inverted cell, such as the text
 * cursor, then still reads as its character). The host reads screen text by matching these exact
 * bitmaps, which is why every glyph is distinct (Hamming distance >= 4).
 */
export const FONT_WIDTH = 8;
export const FONT_HEIGHT = 16;
export const FIRST_CHAR = 0x20;
export const LAST_CHAR = 0x7e;
/** A solid block (all ink): an inverted space. */
export const BLOCK_CHAR = 0x7f;

// One hex string of 16 rows per character, 0x20..0x7E in order.
const HEX: readonly string[] = [
  '00000000000000000000000000000000', // 20 space
  '0000183c3c3c18181800181800000000', // 21 !
  '00006666662400000000000000000000', // 22 "
  '0000006c6cfe6c6c6cfe6c6c00000000', // 23 #
  '0018187cc6c0c07c0606c67c18180000', // 24 $
  '00000062966c0c18306cd28c00000000', // 25 %
  '000000386c6c3876dccccc7600000000', // 26 &
  '00001818183000000000000000000000', // 27 '
  '0000000c18303030303030180c000000', // 28 (
  '00000030180c0c0c0c0c0c1830000000', // 29 )
  '0000000000663cff3c66000000000000', // 2a *
  '000000000018187e1818000000000000', // 2b +
  '00000000000000000000181818300000', // 2c ,
  '000000000000007e0000000000000000', // 2d -
  '00000000000000000000181800000000', // 2e .
  '0000000002060c183060c08000000000', // 2f /
  '0000386cc6ced6e6c6c66c3800000000', // 30 0
  '00001838781818181818187e00000000', // 31 1
  '00007cc6060c183060c0c6fe00000000', // 32 2
  '00007cc606063c060606c67c00000000', // 33 3
  '00000c1c3c6cccfe0c0c0c1e00000000', // 34 4
  '0000fec0c0c0fc060606c67c00000000', // 35 5
  '00003860c0c0fcc6c6c6c67c00000000', // 36 6
  '0000fec6060c18303030303000000000', // 37 7
  '00007cc6c6c67cc6c6c6c67c00000000', // 38 8
  '00007cc6c6c67e0606060c7800000000', // 39 9
  '00000000181800000018180000000000', // 3a :
  '00000000181800000018181830000000', // 3b ;
  '000000060c18306030180c0600000000', // 3c <
  '0000000000007e007e00000000000000', // 3d =
  '0000006030180c060c18306000000000', // 3e >
  '00007cc6c60c18181800181800000000', // 3f ?
  '0000007cc6c6dedededcc07c00000000', // 40 @
  '000010386cc6c6fec6c6c6c600000000', // 41 A
  '0000fc6666667c66666666fc00000000', // 42 B
  '00003c66c2c0c0c0c0c2663c00000000', // 43 C
  '0000f86c6666666666666cf800000000', // 44 D
  '0000fe6662687868606266fe00000000', // 45 E
  '0000fe6662687868606060f000000000', // 46 F
  '00003c66c2c0c0dec6c6663a00000000', // 47 G
  '0000c6c6c6c6fec6c6c6c6c600000000', // 48 H
  '00007e18181818181818187e00000000', // 49 I
  '00001e0c0c0c0c0ccccccc7800000000', // 4a J
  '0000e6666c6c78786c6666e600000000', // 4b K
  '0000f06060606060606266fe00000000', // 4c L
  '0000c6eefed6d6c6c6c6c6c600000000', // 4d M
  '0000c6e6f6decec6c6c6c6c600000000', // 4e N
  '00007cc6c6c6c6c6c6c6c67c00000000', // 4f O
  '0000fc6666667c60606060f000000000', // 50 P
  '00007cc6c6c6c6c6c6d6de7c0c060000', // 51 Q
  '0000fc6666667c6c666666e600000000', // 52 R
  '00007cc6c660380c06c6c67c00000000', // 53 S
  '0000ffdb991818181818183c00000000', // 54 T
  '0000c6c6c6c6c6c6c6c6c67c00000000', // 55 U
  '0000c6c6c6c6c6c6c66c381000000000', // 56 V
  '0000c6c6c6c6d6d6d6fe6c6c00000000', // 57 W
  '0000c6c66c7c38387c6cc6c600000000', // 58 X
  '0000c3c3c3663c181818183c00000000', // 59 Y
  '0000fec6860c183060c2c6fe00000000', // 5a Z
  '0000003c30303030303030303c000000', // 5b [
  '0000000080c06030180c060200000000', // 5c \
  '0000003c0c0c0c0c0c0c0c0c3c000000', // 5d ]
  '0010386cc60000000000000000000000', // 5e ^
  '0000000000000000000000000000ff00', // 5f _
  '0030180c000000000000000000000000', // 60 `
  '0000000000780c7ccccccc7600000000', // 61 a
  '0000e06060786c666666667c00000000', // 62 b
  '00000000007cc6c0c0c0c67c00000000', // 63 c
  '00001c0c0c3c6ccccccccc7600000000', // 64 d
  '00000000007cc6fec0c0c67c00000000', // 65 e
  '0000386c6460f060606060f000000000', // 66 f
  '000000000076cccccccccc7c0ccc7800', // 67 g
  '0000e060606c7666666666e600000000', // 68 h
  '00001818003818181818183c00000000', // 69 i
  '00000606000e06060606060666663c00', // 6a j
  '0000e06060666c78786c66e600000000', // 6b k
  '00003818181818181818183c00000000', // 6c l
  '0000000000ecfed6d6d6d6c600000000', // 6d m
  '0000000000dc66666666666600000000', // 6e n
  '00000000007cc6c6c6c6c67c00000000', // 6f o
  '0000000000dc66666666667c6060f000', // 70 p
  '000000000076cccccccccc7c0c0c1e00', // 71 q
  '0000000000dc7666606060f000000000', // 72 r
  '00000000007cc660380cc67c00000000', // 73 s
  '0000103030fc30303030361c00000000', // 74 t
  '0000000000cccccccccccc7600000000', // 75 u
  '0000000000c6c6c6c66c381000000000', // 76 v
  '0000000000c6c6d6d6d6fe6c00000000', // 77 w
  '0000000000c66c3838386cc600000000', // 78 x
  '0000000000c6c6c6c6c6c67e060cf800', // 79 y
  '0000000000fecc183060c6fe00000000', // 7a z
  '0000000e18181870181818180e000000', // 7b {
  '00001818181818181818181818180000', // 7c |
  '000000701818180e1818181870000000', // 7d }
  '000076dc000000000000000000000000', // 7e ~
];

const BLOCK_HEX = 'ff'.repeat(16);
// Shown for codes outside the font: a hollow box, distinct from every printable glyph.
const BOX_HEX = '00007e424242424242424242427e0000';

function parseHex(hex: string): Uint8Array {
  const rows = new Uint8Array(FONT_HEIGHT);
  for (let r = 0; r < FONT_HEIGHT; r++) rows[r] = parseInt(hex.slice(r * 2, r * 2 + 2), 16);
  return rows;
}

/** All glyphs, indexed by code - FIRST_CHAR, then the block; the last entry is the box. */
const GLYPHS: Uint8Array[] = [...HEX.map(parseHex), parseHex(BLOCK_HEX), parseHex(BOX_HEX)];
const BOX = GLYPHS[GLYPHS.length - 1]!;

function key(rows: ArrayLike<number>): string {
  let k = '';
  for (let r = 0; r < FONT_HEIGHT; r++) k += String.fromCharCode(rows[r]! & 0xff);
  return k;
}

// Only the printable glyphs are matched: the block is an inverted space and reads as ' '.
const BY_BITMAP = new Map<string, number>(HEX.map((_, i) => [key(GLYPHS[i]!), FIRST_CHAR + i]));

/**
 * The 16 rows of a character. Codes 0x20..0x7E and BLOCK_CHAR have their own glyph; anything
 * else is drawn as a hollow box. The array is shared: do not modify it.
 */
export function glyph(code: number): Uint8Array {
  if (code >= FIRST_CHAR && code <= BLOCK_CHAR) return GLYPHS[code - FIRST_CHAR]!;
  return BOX;
}

/**
 * OCR: the character whose glyph is exactly `rows16` (ink bits, bit 7 = left), or undefined.
 * An all-zero cell is a space.
 */
export function matchGlyph(rows16: ArrayLike<number>): number | undefined {
  if (rows16.length < FONT_HEIGHT) return undefined;
  return BY_BITMAP.get(key(rows16));
}
