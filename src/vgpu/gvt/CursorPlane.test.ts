import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cursorModeSize, decodeCursorPos } from './CursorPlane.ts';
import { curPosValue } from './GvtRegisters.ts';

describe('CursorPlane helpers', () => {
  it('maps CURCNTR modes to cursor sizes', () => {
    const sizes = new Map([[0x22, 128], [0x23, 256], [0x27, 64], [0x07, 64]]);
    for (let m = 0; m < 0x40; m++) assert.equal(cursorModeSize(m), sizes.get(m) ?? 0, `mode 0x${m.toString(16)}`);
  });

  it('applies CURPOS signs as two\'s complement u32 (our extension over GVT)', () => {
    assert.deepEqual(decodeCursorPos(curPosValue(100, 200)), { x: 100, y: 200 });
    assert.deepEqual(decodeCursorPos(curPosValue(-5, -7)), { x: 0xfffffffb, y: 0xfffffff9 });
    assert.deepEqual(decodeCursorPos(curPosValue(-63, 10)), { x: (-63) >>> 0, y: 10 });
    // Raw register: sign bits with a zero magnitude are plain 0; bits 14:13 and 30:28 are ignored.
    assert.deepEqual(decodeCursorPos(0x80008000), { x: 0, y: 0 });
    assert.deepEqual(decodeCursorPos(0x70006000 | (3 << 16) | 4), { x: 4, y: 3 });
    assert.deepEqual(decodeCursorPos(0x1fff | (0xfff << 16)), { x: 0x1fff, y: 0xfff });
  });
});
