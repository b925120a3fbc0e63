/**
 * Linux input event codes (include/uapi/linux/input-event-codes.h) the guest understands. Keys
 * arrive as physical codes, never characters: the guest applies its own keymap (US layout).
 */
export const KEY = {
  ESC: 1,
  '1': 2, '2': 3, '3': 4, '4': 5, '5': 6, '6': 7, '7': 8, '8': 9, '9': 10, '0': 11,
  MINUS: 12, EQUAL: 13, BACKSPACE: 14, TAB: 15,
  Q: 16, W: 17, E: 18, R: 19, T: 20, Y: 21, U: 22, I: 23, O: 24, P: 25,
  LEFTBRACE: 26, RIGHTBRACE: 27, ENTER: 28, LEFTCTRL: 29,
  A: 30, S: 31, D: 32, F: 33, G: 34, H: 35, J: 36, K: 37, L: 38,
  SEMICOLON: 39, APOSTROPHE: 40, GRAVE: 41, LEFTSHIFT: 42, BACKSLASH: 43,
  Z: 44, X: 45, C: 46, V: 47, B: 48, N: 49, M: 50,
  COMMA: 51, DOT: 52, SLASH: 53, RIGHTSHIFT: 54, KPASTERISK: 55, LEFTALT: 56, SPACE: 57,
  CAPSLOCK: 58,
  F1: 59, F2: 60, F3: 61, F4: 62, F5: 63, F6: 64, F7: 65, F8: 66, F9: 67, F10: 68,
  NUMLOCK: 69, SCROLLLOCK: 70,
  KP7: 71, KP8: 72, KP9: 73, KPMINUS: 74, KP4: 75, KP5: 76, KP6: 77, KPPLUS: 78,
  KP1: 79, KP2: 80, KP3: 81, KP0: 82, KPDOT: 83,
  F11: 87, F12: 88, KPENTER: 96, RIGHTCTRL: 97, KPSLASH: 98, RIGHTALT: 100,
  HOME: 102, UP: 103, PAGEUP: 104, LEFT: 105, RIGHT: 106, END: 107, DOWN: 108, PAGEDOWN: 109,
  INSERT: 110, DELETE: 111, LEFTMETA: 125, RIGHTMETA: 126,
} as const;

/** Mouse buttons are EV_KEY codes too. */
export const BTN = { LEFT: 0x110, RIGHT: 0x111, MIDDLE: 0x112 } as const;

/** Absolute pointer range (a USB tablet's 0..32767, as QEMU's usb-tablet reports). */
export const ABS_MAX = 0x7fff;

/** US layout: code → [unshifted, shifted]. Letters are listed lower-case; caps lock applies. */
const US: ReadonlyMap<number, readonly [string, string]> = new Map<number, readonly [string, string]>([
  [KEY['1'], ['1', '!']], [KEY['2'], ['2', '@']], [KEY['3'], ['3', '#']], [KEY['4'], ['4', '$']],
  [KEY['5'], ['5', '%']], [KEY['6'], ['6', '^']], [KEY['7'], ['7', '&']], [KEY['8'], ['8', '*']],
  [KEY['9'], ['9', '(']], [KEY['0'], ['0', ')']], [KEY.MINUS, ['-', '_']], [KEY.EQUAL, ['=', '+']],
  [KEY.LEFTBRACE, ['[', '{']], [KEY.RIGHTBRACE, [']', '}']], [KEY.SEMICOLON, [';', ':']],
  [KEY.APOSTROPHE, ["'", '"']], [KEY.GRAVE, ['`', '~']], [KEY.BACKSLASH, ['\\', '|']],
  [KEY.COMMA, [',', '<']], [KEY.DOT, ['.', '>']], [KEY.SLASH, ['/', '?']], [KEY.SPACE, [' ', ' ']],
  [KEY.KPASTERISK, ['*', '*']], [KEY.KPMINUS, ['-', '-']], [KEY.KPPLUS, ['+', '+']],
  [KEY.KPSLASH, ['/', '/']], [KEY.KPDOT, ['.', '.']],
  [KEY.KP0, ['0', '0']], [KEY.KP1, ['1', '1']], [KEY.KP2, ['2', '2']], [KEY.KP3, ['3', '3']],
  [KEY.KP4, ['4', '4']], [KEY.KP5, ['5', '5']], [KEY.KP6, ['6', '6']], [KEY.KP7, ['7', '7']],
  [KEY.KP8, ['8', '8']], [KEY.KP9, ['9', '9']],
  ...'qwertyuiopasdfghjklzxcvbnm'.split('').map((c) =>
    [KEY[c.toUpperCase() as 'Q'], [c, c.toUpperCase()]] as [number, readonly [string, string]]),
]);

const LETTER = /^[a-z]$/;

/** Function keys F1..F12 → 1..12. */
export const FKEYS: ReadonlyMap<number, number> = new Map([
  [KEY.F1, 1], [KEY.F2, 2], [KEY.F3, 3], [KEY.F4, 4], [KEY.F5, 5], [KEY.F6, 6], [KEY.F7, 7],
  [KEY.F8, 8], [KEY.F9, 9], [KEY.F10, 10], [KEY.F11, 11], [KEY.F12, 12],
]);

/** The character a key produces on a US keyboard, or undefined (modifiers, F-keys, arrows). */
export function keyChar(code: number, shift: boolean, caps = false): string | undefined {
  const pair = US.get(code);
  if (!pair) return undefined;
  const useShift = LETTER.test(pair[0]) ? shift !== caps : shift;
  return useShift ? pair[1] : pair[0];
}

/** Reverse map for the host side: a character → the key and whether shift is needed. */
export function charKey(ch: string): { code: number; shift: boolean } | undefined {
  if (ch === '\n') return { code: KEY.ENTER, shift: false };
  if (ch === '\t') return { code: KEY.TAB, shift: false };
  if (ch === '\b') return { code: KEY.BACKSPACE, shift: false };
  for (const [code, [plain, shifted]] of US) {
    if (code >= KEY.KP7 && code <= KEY.KPSLASH) continue; // prefer the main block
    if (plain === ch) return { code, shift: false };
    if (shifted === ch) return { code, shift: true };
  }
  return undefined;
}
