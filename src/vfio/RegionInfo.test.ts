import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Errno } from '../base/Errno.ts';
import {
  VFIO_REGION_INFO_CAP_SPARSE_MMAP, VFIO_REGION_INFO_CAP_TYPE, VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
  VFIO_REGION_SUBTYPE_GFX_EDID, VFIO_REGION_TYPE_GFX,
} from './Abi.ts';
import { capBody, encodeCapChain, walkCapChain } from './InfoCap.ts';
import {
  encodeRegionInfoRequest, findRegionType, readRegionCaps, readRegionInfo, regionTypeCap,
  writeRegionInfoReply,
} from './RegionInfo.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const RW = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
const EDID_CAP = regionTypeCap(VFIO_REGION_TYPE_GFX, VFIO_REGION_SUBTYPE_GFX_EDID);
const EDID_REPLY = { flags: RW, size: 4096, offset: 8192 };

test('encodeRegionInfoRequest: golden bytes', () => {
  assert.equal(hex(encodeRegionInfoRequest(9)), '20000000' + '00000000' + '09000000' + '00'.repeat(20));
  const big = encodeRegionInfoRequest(7, 48);
  assert.equal(big.byteLength, 48);
  assert.equal(readRegionInfo(big).argsz, 48);
});

test('a plain region: flags, size (u64), offset (u64), cap_offset 0', () => {
  const b = encodeRegionInfoRequest(0);
  b.fill(0x77, 12, 16); // a caller's stale cap_offset
  const flags = RW | VFIO_REGION_INFO_FLAG_MMAP;
  assert.equal(writeRegionInfoReply(b, { flags, size: 0x1_0000_0000n, offset: 12288 }), 0);
  assert.equal(hex(b), '20000000' + '07000000' + '00000000' + '00000000'
    + '0000000001000000' + '0030000000000000');
  assert.deepEqual(readRegionInfo(b), {
    argsz: 32, flags, index: 0, capOffset: 0, size: 0x1_0000_0000n, offset: 12288n,
  });
  assert.deepEqual(readRegionCaps(b), []);
});

test('EDID region with argsz 48: golden bytes, cap_offset 32, CAP_TYPE gfx/edid', () => {
  const b = encodeRegionInfoRequest(9, 48);
  assert.equal(writeRegionInfoReply(b, EDID_REPLY, [EDID_CAP]), 0);
  assert.equal(hex(b),
    '30000000' + '0b000000' + '09000000' + '20000000' + '0010000000000000' + '0020000000000000'
    + '0200' + '0100' + '00000000' + '01000000' + '01000000');
  assert.equal(readRegionInfo(b).flags, RW | VFIO_REGION_INFO_FLAG_CAPS);
  assert.deepEqual(findRegionType(b), { type: VFIO_REGION_TYPE_GFX, subtype: VFIO_REGION_SUBTYPE_GFX_EDID });
});

test('caps with argsz too small: argsz := needed, FLAG_CAPS set, cap_offset 0, nothing past 32', () => {
  const b = new Uint8Array(48).fill(0xab);
  b.set(encodeRegionInfoRequest(9));
  assert.equal(writeRegionInfoReply(b, EDID_REPLY, [EDID_CAP]), 0);
  const r = readRegionInfo(b);
  assert.equal(r.argsz, 48);
  assert.equal(r.flags, RW | VFIO_REGION_INFO_FLAG_CAPS);
  assert.equal(r.capOffset, 0);
  assert.ok(b.subarray(32).every((x) => x === 0xab));
  assert.deepEqual(readRegionCaps(b), []);
  assert.equal(findRegionType(b), undefined);
  // The client re-asks with the argsz it was given.
  const again = encodeRegionInfoRequest(9, r.argsz);
  assert.equal(writeRegionInfoReply(again, EDID_REPLY, [EDID_CAP]), 0);
  assert.equal(readRegionInfo(again).capOffset, 32);
});

test('argsz < 32 is -EINVAL; argsz larger than the buffer is -EFAULT', () => {
  const b = encodeRegionInfoRequest(9, 31);
  assert.equal(writeRegionInfoReply(b, EDID_REPLY), -Errno.EINVAL);
  const short = encodeRegionInfoRequest(9);
  new DataView(short.buffer).setUint32(0, 48, true);
  assert.equal(writeRegionInfoReply(short, EDID_REPLY, [EDID_CAP]), -Errno.EFAULT);
  assert.equal(writeRegionInfoReply(new Uint8Array(16), EDID_REPLY), -Errno.EFAULT);
});

test('a two-capability chain: next offsets from the info start, 8-byte aligned', () => {
  const sparse = { id: VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1, body: capBody(1, 0, 0, 0, 0x1000, 0) };
  const odd = { id: 99, version: 3, body: new Uint8Array([1, 2, 3]) }; // 11 bytes → padded to 16
  const b = encodeRegionInfoRequest(2, 32 + 32 + 16 + 16);
  assert.equal(writeRegionInfoReply(b, { flags: RW, size: 8192, offset: 0 }, [sparse, odd, EDID_CAP]), 0);
  const caps = readRegionCaps(b);
  assert.ok(Array.isArray(caps));
  assert.deepEqual(caps.map((c) => [c.id, c.version, c.offset, c.next]), [
    [VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 32, 64],
    [99, 3, 64, 80],
    [VFIO_REGION_INFO_CAP_TYPE, 1, 80, 0],
  ]);
  assert.deepEqual([...caps[1]!.bytes.subarray(8)], [1, 2, 3, 0, 0, 0, 0, 0]);
  assert.deepEqual(findRegionType(b), { type: 1, subtype: 1 });
});

test('walkCapChain rejects loops and out-of-range headers', () => {
  assert.deepEqual(walkCapChain(new Uint8Array(64), 0), []); // cap_offset 0 = no chain
  const buf = new Uint8Array(64);
  buf.set(encodeCapChain([EDID_CAP, EDID_CAP], 32), 32);
  assert.equal((walkCapChain(buf, 32) as unknown[]).length, 2);
  new DataView(buf.buffer).setUint32(52, 32, true); // second cap points back at the first
  assert.equal(walkCapChain(buf, 32), -Errno.EINVAL);
  assert.equal(walkCapChain(buf, 60), -Errno.EINVAL);
  assert.equal(walkCapChain(buf, 33), -Errno.EINVAL);
});
