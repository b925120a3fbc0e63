import {
  DMA_BUF_IOCTL_SYNC, VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS,
  VFIO_GET_API_VERSION, VFIO_GROUP_GET_DEVICE_FD, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_DISPLAY_IRQ_INDEX,
} from '../vfio/Abi.ts';
import { encodeDeviceInfoRequest } from '../vfio/DeviceInfo.ts';
import { encodeIrqInfoRequest, encodeIrqSet } from '../vfio/IrqInfo.ts';
import { encodePlaneInfoRequest } from '../vfio/PlaneInfo.ts';
import { encodeRegionInfoRequest } from '../vfio/RegionInfo.ts';
import { interestingU32 } from './GuestPrograms.ts';
import type { Rng } from './Rng.ts';

/**
 * Ioctl requests and argument buffers for the ABI fuzzer: random ones, and MUTATED valid ones —
 * a well-formed QUERY / REGION_INFO / IRQ_INFO / SET_IRQS / GET_DMABUF / GET_INFO / SYNC struct
 * with bits flipped, argsz changed, the buffer truncated or extended, fields overwritten, or the
 * struct of another request passed instead.
 */

export const DEVICE_REQUESTS = [
  VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS,
  VFIO_DEVICE_RESET, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_GET_GFX_DMABUF,
] as const;

/** What the generator may name in a buffer: fds the process has and dmabuf ids it has seen. */
export interface BufferContext {
  readonly fds: readonly number[];
  readonly eventfds: readonly number[];
  readonly ids: readonly number[];
  /** Region indexes of the target device. */
  readonly regionIndexes: readonly number[];
}

export function pickRequest(rng: Rng): number {
  return rng.weighted<() => number>([
    [10, () => rng.pick(DEVICE_REQUESTS)],
    [6, () => rng.pick([VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_GET_GFX_DMABUF])],
    [1, () => DMA_BUF_IOCTL_SYNC],
    [1, () => (0x3b00 | rng.int(256)) >>> 0],
    [1, () => rng.pick([VFIO_GET_API_VERSION, VFIO_GROUP_GET_DEVICE_FD, 0, 0xffffffff, 0x40000000 | VFIO_DEVICE_QUERY_GFX_PLANE])],
    [1, () => rng.u32()],
    // Not even a u32: the syscall layer must refuse it (ENOTTY), not wrap it into a valid number.
    [0.2, () => rng.pick([-1, 2 ** 32 + VFIO_DEVICE_QUERY_GFX_PLANE, 0.5, Number.NaN, -VFIO_DEVICE_GET_INFO])],
  ])();
}

function u32buf(v: number, len = 4): Uint8Array {
  const b = new Uint8Array(len);
  if (len >= 4) new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** A dmabuf id worth asking for: seen ids, their neighbours, the edges of the u32 space. */
export function pickId(rng: Rng, ids: readonly number[]): number {
  return rng.weighted<() => number>([
    [6, () => (ids.length ? rng.pick(ids) : 1)],
    [2, () => (ids.length ? rng.pick(ids) + rng.pick([-1, 1, 2]) : rng.range(0, 4)) >>> 0],
    [1, () => rng.pick([0, 1, 2, 0x7fffffff, 0xffffffff])],
    [1, () => rng.u32()],
  ])();
}

function pickFd(rng: Rng, ctx: BufferContext): number {
  return rng.weighted<() => number>([
    [5, () => (ctx.eventfds.length ? rng.pick(ctx.eventfds) : -1)],
    [2, () => (ctx.fds.length ? rng.pick(ctx.fds) : 3)],
    [2, () => -1],
    [1, () => rng.pick([0, 1, 2, 3, 1023, 1024, 0x7fffffff, -2])],
  ])();
}

/** A well-formed argument for `request` (what a correct VMM passes). */
export function validBuffer(rng: Rng, request: number, ctx: BufferContext): Uint8Array {
  switch (request >>> 0) {
    case VFIO_DEVICE_GET_INFO:
      return encodeDeviceInfoRequest(rng.pick([16, 20, 24]));
    case VFIO_DEVICE_GET_REGION_INFO: {
      const index = rng.chance(0.8) && ctx.regionIndexes.length ? rng.pick(ctx.regionIndexes) : rng.int(20);
      return encodeRegionInfoRequest(index, rng.pick([32, 32, 48, 64, 128]));
    }
    case VFIO_DEVICE_GET_IRQ_INFO:
      return encodeIrqInfoRequest(rng.chance(0.5) ? VFIO_PCI_DISPLAY_IRQ_INDEX : rng.int(8));
    case VFIO_DEVICE_SET_IRQS: {
      const action = rng.weighted([[8, VFIO_IRQ_SET_ACTION_TRIGGER], [1, VFIO_IRQ_SET_ACTION_MASK], [1, VFIO_IRQ_SET_ACTION_UNMASK]]);
      const index = rng.chance(0.85) ? VFIO_PCI_DISPLAY_IRQ_INDEX : rng.int(8);
      return rng.weighted<() => Uint8Array>([
        [5, () => encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_EVENTFD | action, index, eventfds: [pickFd(rng, ctx)] })],
        [2, () => encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_NONE | action, index, count: rng.int(2) })],
        [2, () => encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_BOOL | action, index, bools: [rng.bool()] })],
        [1, () => encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_EVENTFD | action, index, start: rng.int(3),
          eventfds: Array.from({ length: rng.int(4) }, () => pickFd(rng, ctx)) })],
      ])();
    }
    case VFIO_DEVICE_RESET:
      return new Uint8Array(rng.pick([0, 0, 4, 64]));
    case VFIO_DEVICE_QUERY_GFX_PLANE: {
      const flags = rng.weighted([[8, 2], [2, 3], [2, 4], [2, 5], [1, rng.pick([0, 1, 6, 7, 8, 0x80000002])]]);
      const planeType = rng.weighted([[6, 1], [3, 2], [2, 0], [1, rng.pick([3, 0xffffffff])]]);
      const argsz = rng.weighted([[8, 64], [2, 60], [1, rng.pick([0, 59, 61, 4096, 0xffffffff])]]);
      const bytes = encodePlaneInfoRequest({ argsz, flags, planeType });
      return rng.chance(0.2) ? bytes.slice(0, 60) : bytes;
    }
    case VFIO_DEVICE_GET_GFX_DMABUF:
      return u32buf(pickId(rng, ctx.ids), rng.chance(0.9) ? 4 : 8);
    case DMA_BUF_IOCTL_SYNC: {
      const b = new Uint8Array(8);
      const flags = rng.chance(0.8) ? rng.pick([1, 2, 3]) | rng.pick([0, 4]) : rng.pick([0, 4, 8, 0xff]);
      new DataView(b.buffer).setUint32(0, flags, true);
      if (rng.chance(0.05)) new DataView(b.buffer).setUint32(4, rng.u32(), true);
      return b;
    }
    default:
      return rng.bytes(rng.size(96));
  }
}

/** One mutation of a buffer (may return a new, differently sized one). */
export function mutate(rng: Rng, buf: Uint8Array, ctx: BufferContext): Uint8Array {
  const n = buf.byteLength;
  return rng.weighted<() => Uint8Array>([
    [4, () => { // flip a bit
      if (n === 0) return buf;
      const out = buf.slice();
      out[rng.int(n)] ^= 1 << rng.int(8);
      return out;
    }],
    [4, () => { // change argsz
      if (n < 4) return buf;
      const out = buf.slice();
      const v = rng.pick([0, 1, 15, 16, 19, 20, 31, 32, 59, 60, 61, 63, 64, 65, n - 1, n, n + 1, 4096,
        0x7fffffff, 0xffffffff, rng.u32()]);
      new DataView(out.buffer).setUint32(0, v >>> 0, true);
      return out;
    }],
    [3, () => buf.slice(0, rng.int(n + 1))], // truncate
    [2, () => { // extend
      const out = new Uint8Array(n + 1 + rng.size(64));
      out.set(buf);
      if (rng.bool()) out.set(rng.bytes(out.byteLength - n), n);
      return out;
    }],
    [4, () => { // overwrite an aligned u32 field
      if (n < 4) return buf;
      const out = buf.slice();
      const at = rng.int(Math.floor(n / 4)) * 4;
      const v = rng.chance(0.3) && ctx.fds.length ? rng.pick(ctx.fds)
        : rng.chance(0.2) && ctx.ids.length ? pickId(rng, ctx.ids) : interestingU32(rng);
      new DataView(out.buffer).setUint32(at, v >>> 0, true);
      return out;
    }],
    [1, () => { // overwrite a u64
      if (n < 8) return buf;
      const out = buf.slice();
      new DataView(out.buffer).setBigUint64(rng.int(Math.floor(n / 8)) * 8, rng.u64(), true);
      return out;
    }],
    [2, () => { // random bytes over a span
      if (n === 0) return buf;
      const out = buf.slice();
      const at = rng.int(n);
      const len = Math.min(n - at, 1 + rng.size(16));
      out.set(rng.bytes(len), at);
      return out;
    }],
  ])();
}

/** The argument for one fuzzed ioctl: valid, mutated-from-valid, another struct, or noise. */
export function ioctlBuffer(rng: Rng, request: number, ctx: BufferContext): Uint8Array {
  return rng.weighted<() => Uint8Array>([
    [3, () => validBuffer(rng, request, ctx)],
    [6, () => {
      let b = validBuffer(rng, request, ctx);
      const k = 1 + rng.size(3);
      for (let i = 0; i < k; i++) b = mutate(rng, b, ctx);
      return b;
    }],
    [1, () => validBuffer(rng, rng.pick(DEVICE_REQUESTS), ctx)], // another request's struct
    [1, () => rng.bytes(rng.size(128))],
  ])();
}
