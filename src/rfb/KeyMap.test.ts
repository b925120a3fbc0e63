import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keysymToEvdev, qnumToEvdev } from './KeyMap.ts';

describe('RFB key map', () => {
  it('maps QEMU qnum codes to evdev (set-1 base keys, E0 keys as 0x80|code)', () => {
    assert.equal(qnumToEvdev(0x1e), 30, 'A');
    assert.equal(qnumToEvdev(0x01), 1, 'Esc');
    assert.equal(qnumToEvdev(0x58), 88, 'F12');
    assert.equal(qnumToEvdev(0xcd), 106, 'Right arrow (E0 4D)');
    assert.equal(qnumToEvdev(0xb8), 100, 'AltGr (E0 38)');
    assert.equal(qnumToEvdev(0x9c), 96, 'KP Enter (E0 1C)');
    assert.equal(qnumToEvdev(0x54), 99, 'SysRq');
    assert.equal(qnumToEvdev(0), 0);
    assert.equal(qnumToEvdev(0x7f), 0);
    assert.equal(qnumToEvdev(0xffff), 0);
  });

  it('maps keysyms to the US-layout key that types them', () => {
    assert.equal(keysymToEvdev(0x61), 30, 'a');
    assert.equal(keysymToEvdev(0x41), 30, 'A is the same key');
    assert.equal(keysymToEvdev(0x21), 2, '! is Shift+1');
    assert.equal(keysymToEvdev(0x7c), 43, '| is Shift+\\');
    assert.equal(keysymToEvdev(0xff0d), 28, 'Return');
    assert.equal(keysymToEvdev(0xff53), 106, 'Right');
    assert.equal(keysymToEvdev(0xffc9), 88, 'F12');
    assert.equal(keysymToEvdev(0xffe3), 29, 'Control_L');
    assert.equal(keysymToEvdev(0x20ac), 0, 'the euro sign has no US key');
  });
});
