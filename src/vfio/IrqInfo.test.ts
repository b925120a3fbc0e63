import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Errno } from '../base/Errno.ts';
import {
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_DISPLAY_IRQ_FLAGS,
  VFIO_PCI_DISPLAY_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
} from './Abi.ts';
import {
  IRQ_INFO_SIZE, IRQ_SET_HDR_SIZE, decodeIrqSet, encodeIrqInfoRequest, encodeIrqSet, readIrqInfo,
  writeIrqInfoReply,
} from './IrqInfo.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ARM = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
/** A device with the five vfio-pci indexes (all count 0, like mbochs) plus the display IRQ. */
const NUM_INDEXES = 6;
const countOf = (i: number): number => (i === VFIO_PCI_DISPLAY_IRQ_INDEX ? 1 : i === VFIO_PCI_MSIX_IRQ_INDEX ? 8 : 0);

test('GET_IRQ_INFO: golden request and reply', () => {
  const b = encodeIrqInfoRequest(VFIO_PCI_DISPLAY_IRQ_INDEX);
  assert.equal(IRQ_INFO_SIZE, 16);
  assert.equal(hex(b), '10000000' + '00000000' + '05000000' + '00000000');
  assert.equal(writeIrqInfoReply(b, { flags: VFIO_PCI_DISPLAY_IRQ_FLAGS, count: 1 }), 0);
  assert.equal(hex(b), '10000000' + '09000000' + '05000000' + '01000000');
  assert.deepEqual(readIrqInfo(b), { argsz: 16, flags: 9, index: 5, count: 1 });
});

test('GET_IRQ_INFO: argsz < 16 is -EINVAL, short buffer -EFAULT', () => {
  const b = encodeIrqInfoRequest(0);
  new DataView(b.buffer).setUint32(0, 15, true);
  assert.equal(writeIrqInfoReply(b, { flags: 0, count: 0 }), -Errno.EINVAL);
  assert.equal(writeIrqInfoReply(new Uint8Array(12), { flags: 0, count: 0 }), -Errno.EFAULT);
});

test('SET_IRQS: arming the display IRQ, golden bytes and decode', () => {
  const b = encodeIrqSet({ flags: ARM, index: VFIO_PCI_DISPLAY_IRQ_INDEX, eventfds: [7] });
  assert.equal(hex(b), '18000000' + '24000000' + '05000000' + '00000000' + '01000000' + '07000000');
  const s = decodeIrqSet(b, NUM_INDEXES, countOf);
  assert.ok(typeof s === 'object');
  assert.deepEqual(s, {
    argsz: 24, flags: ARM, index: 5, start: 0, count: 1,
    dataType: VFIO_IRQ_SET_DATA_EVENTFD, action: VFIO_IRQ_SET_ACTION_TRIGGER, eventfds: [7], bools: [],
  });
});

test('SET_IRQS: fd -1 round-trips as s32', () => {
  const b = encodeIrqSet({ flags: ARM, index: 5, eventfds: [-1] });
  assert.equal(hex(b.subarray(IRQ_SET_HDR_SIZE)), 'ffffffff');
  assert.deepEqual((decodeIrqSet(b, NUM_INDEXES, countOf) as { eventfds: readonly number[] }).eventfds, [-1]);
});

test('SET_IRQS: bools and DATA_NONE', () => {
  const b = encodeIrqSet({
    flags: VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, index: 2, start: 2, bools: [true, false, true],
  });
  assert.equal(b.byteLength, 23);
  const s = decodeIrqSet(b, NUM_INDEXES, countOf);
  assert.deepEqual(typeof s === 'object' && [s.start, s.count, s.bools, s.eventfds], [2, 3, [true, false, true], []]);
  const off = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: 5, count: 0 });
  assert.equal(off.byteLength, 20);
  assert.equal(typeof decodeIrqSet(off, NUM_INDEXES, countOf), 'object');
});

test('SET_IRQS validation mirrors vfio_set_irqs_validate_and_prepare', () => {
  const dec = (b: Uint8Array): unknown => decodeIrqSet(b, NUM_INDEXES, countOf);
  const EINVAL = -Errno.EINVAL;
  assert.equal(dec(encodeIrqSet({ flags: ARM, index: 6, eventfds: [3] })), EINVAL); // no such index
  assert.equal(dec(encodeIrqSet({ flags: ARM, index: 5, start: 1, eventfds: [3] })), EINVAL); // start
  assert.equal(dec(encodeIrqSet({ flags: ARM, index: 5, eventfds: [3, 4] })), EINVAL); // count > 1
  assert.equal(dec(encodeIrqSet({ flags: ARM, index: 0, count: 0 })), EINVAL); // index with no IRQs
  assert.equal(dec(encodeIrqSet({ flags: ARM | VFIO_IRQ_SET_DATA_BOOL, index: 5, eventfds: [3] })), EINVAL);
  assert.equal(dec(encodeIrqSet({ flags: ARM | 0x40, index: 5, eventfds: [3] })), EINVAL); // unknown bit
  assert.equal(dec(encodeIrqSet({ flags: VFIO_IRQ_SET_ACTION_TRIGGER, index: 5, count: 1 })), EINVAL); // no data type
  assert.equal(dec(encodeIrqSet({ flags: ARM, index: 5, start: 0xffffffff, count: 1 })), EINVAL); // overflow

  const small = encodeIrqSet({ flags: ARM, index: 5, eventfds: [3] });
  new DataView(small.buffer).setUint32(0, 23, true); // argsz too small for one s32
  assert.equal(dec(small), EINVAL);
  new DataView(small.buffer).setUint32(0, 19, true);
  assert.equal(dec(small), EINVAL);
  const truncated = encodeIrqSet({ flags: ARM, index: 5, eventfds: [3] }).slice(0, 22);
  assert.equal(dec(truncated), -Errno.EFAULT);
  assert.equal(dec(new Uint8Array(19)), -Errno.EFAULT);
});
