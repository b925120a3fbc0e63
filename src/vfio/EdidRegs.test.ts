import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP } from './Abi.ts';
import { EDID_REGS_SIZE, EDID_REGS_WRITABLE, edidRegAt, readEdidRegs, writeEdidRegs } from './EdidRegs.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('mbochs registers: golden bytes and round trip', () => {
  const b = new Uint8Array(EDID_REGS_SIZE);
  const regs = {
    edidOffset: 0x800, edidMaxSize: 0x400, edidSize: 128, maxXres: 1920, maxYres: 1440,
    linkState: VFIO_DEVICE_GFX_LINK_STATE_UP,
  };
  assert.equal(writeEdidRegs(b, regs), 6);
  assert.equal(hex(b), '00080000' + '00040000' + '80000000' + '80070000' + 'a0050000' + '01000000');
  assert.deepEqual(readEdidRegs(b), regs);
});

test('partial writes touch only the named register', () => {
  const b = new Uint8Array(EDID_REGS_SIZE).fill(0xff);
  assert.equal(writeEdidRegs(b, { linkState: VFIO_DEVICE_GFX_LINK_STATE_DOWN }), 1);
  assert.equal(hex(b), 'ff'.repeat(20) + '02000000');
});

test('register lookup by offset, and which are writable', () => {
  assert.deepEqual([0, 4, 8, 12, 16, 20].map(edidRegAt),
    ['edidOffset', 'edidMaxSize', 'edidSize', 'maxXres', 'maxYres', 'linkState']);
  assert.equal(edidRegAt(2), undefined);
  assert.equal(edidRegAt(24), undefined);
  assert.deepEqual([...EDID_REGS_WRITABLE].sort(), ['edidSize', 'linkState']);
});
