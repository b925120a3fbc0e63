import assert from 'node:assert/strict';
import { test } from 'node:test';
import { charKey, KEY, keyChar } from './Evdev.ts';
import { Keyboard } from './Keyboard.ts';

test('US keymap: every printable ASCII character has a key, and the key types it back', () => {
  for (let c = 0x20; c <= 0x7e; c++) {
    const ch = String.fromCharCode(c);
    const k = charKey(ch);
    assert.ok(k, ch);
    assert.equal(keyChar(k.code, k.shift), ch);
  }
  assert.equal(KEY.A, 30);
  assert.equal(KEY.ENTER, 28);
  assert.equal(keyChar(KEY.A, false), 'a');
  assert.equal(keyChar(KEY.A, true), 'A');
  assert.equal(keyChar(KEY['1'], true), '!');
  assert.equal(keyChar(KEY.F1, false), undefined);
});

test('modifiers, caps lock and Ctrl+Alt+Fn', () => {
  const kb = new Keyboard();
  const press = (c: number) => { const a = kb.event(c, true); kb.event(c, false); return a; };
  assert.deepEqual(press(KEY.Q), { kind: 'char', ch: 'q' });
  kb.event(KEY.RIGHTSHIFT, true);
  assert.deepEqual(press(KEY.Q), { kind: 'char', ch: 'Q' });
  assert.deepEqual(press(KEY.SLASH), { kind: 'char', ch: '?' });
  kb.event(KEY.RIGHTSHIFT, false);
  press(KEY.CAPSLOCK);
  assert.deepEqual(press(KEY.Q), { kind: 'char', ch: 'Q' });
  assert.deepEqual(press(KEY['2']), { kind: 'char', ch: '2' }, 'caps lock affects letters only');
  press(KEY.CAPSLOCK);
  kb.event(KEY.LEFTCTRL, true);
  assert.deepEqual(press(KEY.C), { kind: 'ctrl', key: 'c' });
  assert.deepEqual(press(KEY.F3), { kind: 'other', code: KEY.F3 }, 'Ctrl+F3 alone is no VT switch');
  kb.event(KEY.LEFTALT, true);
  assert.deepEqual(press(KEY.F3), { kind: 'vt', vt: 3 });
  assert.deepEqual(press(KEY.F7), { kind: 'vt', vt: 7 });
  kb.event(KEY.LEFTALT, false);
  kb.event(KEY.LEFTCTRL, false);
  assert.deepEqual(press(KEY.ENTER), { kind: 'enter' });
  assert.deepEqual(press(KEY.BACKSPACE), { kind: 'backspace' });
  assert.equal(kb.event(KEY.A, false), undefined, 'releases produce nothing');
  kb.event(KEY.LEFTSHIFT, true);
  kb.reset();
  assert.equal(kb.shift, false);
});
