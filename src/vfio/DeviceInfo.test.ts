import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Errno } from '../base/Errno.ts';
import { VFIO_DEVICE_FLAGS_CAPS, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET } from './Abi.ts';
import {
  DEVICE_INFO_CAPSZ, DEVICE_INFO_MINSZ, DEVICE_INFO_SIZE, encodeDeviceInfoRequest, readDeviceInfo,
  writeDeviceInfoReply,
} from './DeviceInfo.ts';
import { capBody, walkCapChain } from './InfoCap.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const FLAGS = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
const REPLY = { flags: FLAGS, numRegions: 10, numIrqs: 6 };

/** A caller buffer of `len` bytes filled with a sentinel, with argsz written. */
function callerBuf(argsz: number, len: number): Uint8Array {
  const b = new Uint8Array(len).fill(0xcd);
  new DataView(b.buffer).setUint32(0, argsz, true);
  return b;
}

test('sizes: minsz 16, cap_offset from 20, struct 24', () => {
  assert.deepEqual([DEVICE_INFO_MINSZ, DEVICE_INFO_CAPSZ, DEVICE_INFO_SIZE], [16, 20, 24]);
  assert.equal(hex(encodeDeviceInfoRequest()), '18000000' + '00'.repeat(20));
  assert.equal(encodeDeviceInfoRequest(16).byteLength, 16);
});

test('a 16-byte (old header) caller: 16 bytes written, nothing after', () => {
  const b = callerBuf(16, 24);
  assert.equal(writeDeviceInfoReply(b, REPLY), 0);
  assert.equal(hex(b), '10000000' + '03000000' + '0a000000' + '06000000' + 'cd'.repeat(8));
  const exact = encodeDeviceInfoRequest(16);
  assert.equal(writeDeviceInfoReply(exact, REPLY), 0);
  assert.deepEqual(readDeviceInfo(exact), { argsz: 16, flags: FLAGS, numRegions: 10, numIrqs: 6, capOffset: 0, pad: 0 });
});

test('a 20-byte (6.1 header) caller: cap_offset written 0, pad untouched', () => {
  const b = callerBuf(20, 24);
  assert.equal(writeDeviceInfoReply(b, REPLY), 0);
  assert.equal(hex(b), '14000000' + '03000000' + '0a000000' + '06000000' + '00000000' + 'cdcdcdcd');
  const exact = encodeDeviceInfoRequest(20);
  assert.equal(writeDeviceInfoReply(exact, REPLY), 0);
  assert.equal(readDeviceInfo(exact).numIrqs, 6);
});

test('a 24-byte caller: golden bytes', () => {
  const b = encodeDeviceInfoRequest(24);
  assert.equal(writeDeviceInfoReply(b, REPLY), 0);
  assert.equal(hex(b), '18000000' + '03000000' + '0a000000' + '06000000' + '00000000' + '00000000');
});

test('argsz < 16 is -EINVAL; a buffer shorter than what will be written is -EFAULT', () => {
  assert.equal(writeDeviceInfoReply(callerBuf(15, 24), REPLY), -Errno.EINVAL);
  assert.equal(writeDeviceInfoReply(callerBuf(16, 12), REPLY), -Errno.EFAULT);
  assert.equal(writeDeviceInfoReply(callerBuf(24, 16), REPLY), -Errno.EFAULT);
});

test('device caps: too-small argsz gets the size needed; a large one gets the chain at 24', () => {
  const cap = { id: 5, version: 1, body: capBody(0xdeadbeef, 0) };
  const small = callerBuf(24, 24);
  assert.equal(writeDeviceInfoReply(small, REPLY, [cap]), 0);
  const s = readDeviceInfo(small);
  assert.equal(s.argsz, 40);
  assert.equal(s.flags, FLAGS | VFIO_DEVICE_FLAGS_CAPS);
  assert.equal(s.capOffset, 0);

  const big = callerBuf(40, 40);
  assert.equal(writeDeviceInfoReply(big, REPLY, [cap]), 0);
  const r = readDeviceInfo(big);
  assert.equal(r.argsz, 40);
  assert.equal(r.capOffset, 24);
  const caps = walkCapChain(big, r.capOffset);
  assert.ok(Array.isArray(caps));
  assert.deepEqual(caps.map((c) => [c.id, c.offset, c.next]), [[5, 24, 0]]);
  assert.equal(hex(big.subarray(24)), '0500' + '0100' + '00000000' + 'efbeadde' + '00000000');
});
