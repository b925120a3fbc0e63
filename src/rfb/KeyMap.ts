/**
 * RFB key input → Linux evdev key codes (what every VM in this project takes).
 *
 * QEMU's Extended Key Event carries the PC XT set-1 scancode in QEMU's "qnum" form (E0-prefixed
 * keys as 0x80 | code): layout-independent, preferred, mapped by protocol/Qnum.ts (the one table
 * the QEMU D-Bus keyboard uses the other way). Plain KeyEvents carry X11 keysyms, which
 * name characters, not keys: they are mapped to the key that types them on a US layout (the
 * client sends Shift itself), the same fallback QEMU's VNC server uses without a keymap.
 */

export { qnumToEvdev } from '../protocol/Qnum.ts';

const KEYSYM: ReadonlyMap<number, number> = (() => {
  const m = new Map<number, number>();
  const row = (chars: string, first: number): void => {
    for (let i = 0; i < chars.length; i++) m.set(chars.charCodeAt(i), first + i);
  };
  row('1234567890-=', 2);
  row('!@#$%^&*()_+', 2);
  row('qwertyuiop[]', 16);
  row('QWERTYUIOP{}', 16);
  row("asdfghjkl;'`", 30);
  row('ASDFGHJKL:"~', 30);
  row('zxcvbnm,./', 44);
  row('ZXCVBNM<>?', 44);
  m.set(0x5c, 43); // backslash
  m.set(0x7c, 43); // |
  m.set(0x20, 57); // space
  const named: Array<[number, number]> = [
    [0xff08, 14], [0xff09, 15], [0xff0d, 28], [0xff1b, 1], [0xffff, 111], // BS Tab Return Esc Delete
    [0xff50, 102], [0xff51, 105], [0xff52, 103], [0xff53, 106], [0xff54, 108], // Home ← ↑ → ↓
    [0xff55, 104], [0xff56, 109], [0xff57, 107], [0xff63, 110], // PgUp PgDn End Insert
    [0xff13, 119], [0xff14, 70], [0xff61, 99], [0xff67, 127], // Pause ScrollLock Print Menu
    [0xffe1, 42], [0xffe2, 54], [0xffe3, 29], [0xffe4, 97], [0xffe5, 58], // Shift L/R, Ctrl L/R, Caps
    [0xffe9, 56], [0xffea, 100], [0xffe7, 125], [0xffe8, 126], [0xffeb, 125], [0xffec, 126], // Alt, Meta, Super
    [0xfe03, 100], // ISO Level3 Shift (AltGr)
    [0xff7f, 69], // Num Lock
    [0xff8d, 96], [0xffaa, 55], [0xffab, 78], [0xffad, 74], [0xffae, 83], [0xffaf, 98], // keypad
    [0xffb0, 82], [0xffb1, 79], [0xffb2, 80], [0xffb3, 81], [0xffb4, 75], [0xffb5, 76],
    [0xffb6, 77], [0xffb7, 71], [0xffb8, 72], [0xffb9, 73],
  ];
  for (const [k, v] of named) m.set(k, v);
  const f = [59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88];
  for (let i = 0; i < 12; i++) m.set(0xffbe + i, f[i]!); // F1 … F12
  return m;
})();

/** An X11 keysym → the evdev code of the US-layout key that types it, or 0. */
export function keysymToEvdev(keysym: number): number {
  return KEYSYM.get(keysym) ?? 0;
}
