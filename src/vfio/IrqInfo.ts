import { Errno } from '../base/Errno.ts';
import {
  VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK,
} from './Abi.ts';
import { defineLayout, readArgsz, readLayout, viewOf, writeLayout } from './StructLayout.ts';
import type { Values } from './StructLayout.ts';

/** struct vfio_irq_info (VFIO_DEVICE_GET_IRQ_INFO), 16 bytes; minsz is all of it. */
export const IRQ_INFO_SIZE = 16;

export const IRQ_INFO_LAYOUT = defineLayout('struct vfio_irq_info', IRQ_INFO_SIZE, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' }, // VFIO_IRQ_INFO_*
  index: { offset: 8, type: 'u32', c: 'index' }, // in
  count: { offset: 12, type: 'u32', c: 'count' },
});

export type IrqInfo = Values<typeof IRQ_INFO_LAYOUT.fields>;

/** struct vfio_irq_set (VFIO_DEVICE_SET_IRQS): a 20-byte header, then `count` data items. */
export const IRQ_SET_HDR_SIZE = 20;

export const IRQ_SET_LAYOUT = defineLayout('struct vfio_irq_set', IRQ_SET_HDR_SIZE, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' }, // one VFIO_IRQ_SET_DATA_* | one ACTION_*
  index: { offset: 8, type: 'u32', c: 'index' },
  start: { offset: 12, type: 'u32', c: 'start' },
  count: { offset: 16, type: 'u32', c: 'count' },
  data: { offset: 20, type: 'u8', c: 'data', flex: true }, // u8 bools or s32 eventfds
});

export type IrqSetHeader = Values<typeof IRQ_SET_LAYOUT.fields>;

/** A decoded, validated SET_IRQS argument. */
export interface IrqSet extends IrqSetHeader {
  /** flags & VFIO_IRQ_SET_DATA_TYPE_MASK: exactly one DATA_* bit. */
  readonly dataType: number;
  /** flags & VFIO_IRQ_SET_ACTION_TYPE_MASK (not validated here: the device decides). */
  readonly action: number;
  /** DATA_EVENTFD: one fd per IRQ (-1 = de-assign); otherwise empty. */
  readonly eventfds: readonly number[];
  /** DATA_BOOL: one flag per IRQ; otherwise empty. */
  readonly bools: readonly boolean[];
}

export interface IrqSetRequest {
  readonly flags: number;
  readonly index: number;
  readonly start?: number;
  /** Defaults to the number of data items. */
  readonly count?: number;
  readonly eventfds?: readonly number[];
  readonly bools?: readonly boolean[];
}

/** Client side: a GET_IRQ_INFO request for `index`. */
export function encodeIrqInfoRequest(index: number): Uint8Array {
  const bytes = new Uint8Array(IRQ_INFO_SIZE);
  writeLayout(IRQ_INFO_LAYOUT, bytes, { argsz: IRQ_INFO_SIZE, index });
  return bytes;
}

export function readIrqInfo(bytes: Uint8Array): IrqInfo {
  return readLayout(IRQ_INFO_LAYOUT, bytes);
}

/**
 * Kernel side of GET_IRQ_INFO after the index was validated: argsz < 16 → -EINVAL; writes flags
 * and count, leaving argsz and index as the caller wrote them. Returns 0, -EINVAL or -EFAULT.
 */
export function writeIrqInfoReply(bytes: Uint8Array, reply: { flags: number; count: number }): number {
  if (bytes.byteLength < IRQ_INFO_SIZE) return -Errno.EFAULT;
  if (readArgsz(bytes) < IRQ_INFO_SIZE) return -Errno.EINVAL;
  writeLayout(IRQ_INFO_LAYOUT, bytes, { flags: reply.flags, count: reply.count });
  return 0;
}

/** Client side: header + data; the data type follows `flags` (eventfds as s32, bools as u8). */
export function encodeIrqSet(req: IrqSetRequest): Uint8Array {
  const dataType = req.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
  const items = dataType === VFIO_IRQ_SET_DATA_EVENTFD ? (req.eventfds ?? [])
    : dataType === VFIO_IRQ_SET_DATA_BOOL ? (req.bools ?? []) : [];
  const itemSize = dataType === VFIO_IRQ_SET_DATA_EVENTFD ? 4 : dataType === VFIO_IRQ_SET_DATA_BOOL ? 1 : 0;
  const bytes = new Uint8Array(IRQ_SET_HDR_SIZE + items.length * itemSize);
  writeLayout(IRQ_SET_LAYOUT, bytes, {
    argsz: bytes.byteLength, flags: req.flags, index: req.index, start: req.start ?? 0,
    count: req.count ?? items.length,
  });
  const view = viewOf(bytes);
  items.forEach((v, i) => {
    if (itemSize === 4) view.setInt32(IRQ_SET_HDR_SIZE + i * 4, Number(v), true);
    else view.setUint8(IRQ_SET_HDR_SIZE + i, v ? 1 : 0);
  });
  return bytes;
}

const U32_MAX = 0xffffffff;

/**
 * Kernel side: decode and validate like vfio_set_irqs_validate_and_prepare(). `numIndexes` is the
 * device's num_irqs (IRQ index count), `irqCount(index)` the count GET_IRQ_INFO reports for it.
 * -EINVAL for: argsz < 20, index out of range, start/count overflow or outside [0, count), flag
 * bits outside the DATA/ACTION masks, not exactly one DATA type, argsz too small for the data.
 * -EFAULT when the buffer is shorter than the header or the data.
 */
export function decodeIrqSet(
  bytes: Uint8Array, numIndexes: number, irqCount: (index: number) => number,
): IrqSet | number {
  if (bytes.byteLength < IRQ_SET_HDR_SIZE) return -Errno.EFAULT;
  const h = readLayout(IRQ_SET_LAYOUT, bytes);
  if (h.argsz < IRQ_SET_HDR_SIZE || h.index >= numIndexes || h.count >= U32_MAX - h.start
    || (h.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) !== 0) {
    return -Errno.EINVAL;
  }
  const n = irqCount(h.index);
  if (h.start >= n || h.start + h.count > n) return -Errno.EINVAL;
  const dataType = h.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
  const itemSize = dataType === VFIO_IRQ_SET_DATA_NONE ? 0 : dataType === VFIO_IRQ_SET_DATA_BOOL ? 1
    : dataType === VFIO_IRQ_SET_DATA_EVENTFD ? 4 : -1;
  if (itemSize < 0) return -Errno.EINVAL;
  const dataSize = h.count * itemSize;
  if (h.argsz - IRQ_SET_HDR_SIZE < dataSize) return -Errno.EINVAL;
  if (bytes.byteLength < IRQ_SET_HDR_SIZE + dataSize) return -Errno.EFAULT;
  const view = viewOf(bytes);
  const eventfds: number[] = [];
  const bools: boolean[] = [];
  for (let i = 0; i < (itemSize === 0 ? 0 : h.count); i++) {
    if (itemSize === 4) eventfds.push(view.getInt32(IRQ_SET_HDR_SIZE + i * 4, true));
    else bools.push(view.getUint8(IRQ_SET_HDR_SIZE + i) !== 0);
  }
  return { ...h, dataType, action: h.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK, eventfds, bools };
}
