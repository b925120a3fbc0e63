import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evdevCode, SEND_KEY_COMBOS } from './KeyCodes.ts';

test('physical codes map to Linux evdev codes (input-event-codes.h)', () => {
  const want: Record<string, number> = {
    Escape: 1, Digit1: 2, Digit0: 11, Backspace: 14, Tab: 15, KeyQ: 16, Enter: 28, ControlLeft: 29,
    KeyA: 30, Backquote: 41, ShiftLeft: 42, KeyZ: 44, Slash: 53, ShiftRight: 54, AltLeft: 56, Space: 57,
    CapsLock: 58, F1: 59, F10: 68, NumLock: 69, ScrollLock: 70, Numpad7: 71, NumpadDecimal: 83,
    IntlBackslash: 86, F11: 87, F12: 88, NumpadEnter: 96, ControlRight: 97, NumpadDivide: 98,
    PrintScreen: 99, AltRight: 100, Home: 102, ArrowUp: 103, PageUp: 104, ArrowLeft: 105,
    ArrowRight: 106, End: 107, ArrowDown: 108, PageDown: 109, Insert: 110, Delete: 111, Pause: 119,
    MetaLeft: 125, MetaRight: 126, ContextMenu: 127, F13: 183, F24: 194,
  };
  for (const [code, ev] of Object.entries(want)) assert.equal(evdevCode(code), ev, code);
  assert.equal(evdevCode('Fn'), undefined);
  assert.equal(evdevCode('a'), undefined, 'characters are not codes');
});

test('every letter and digit key has a code, and no two keys share one by accident', () => {
  const letters = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((c) => evdevCode(`Key${c}`));
  const digits = [...'0123456789'].map((c) => evdevCode(`Digit${c}`));
  for (const v of [...letters, ...digits]) assert.ok(v !== undefined && v > 0 && v < 0x300);
  assert.equal(new Set([...letters, ...digits]).size, 36);
});

test('the Send-key menu: Ctrl+Alt+Del, Ctrl+Alt+Backspace, Ctrl+Alt+F1…F12', () => {
  assert.deepEqual(SEND_KEY_COMBOS.map((c) => c.label), ['Ctrl+Alt+Del', 'Ctrl+Alt+Backspace',
    ...Array.from({ length: 12 }, (_, i) => `Ctrl+Alt+F${i + 1}`)]);
  assert.deepEqual(SEND_KEY_COMBOS[0]!.codes, [29, 56, 111]);
  assert.deepEqual(SEND_KEY_COMBOS[13]!.codes, [29, 56, 88]);
});
