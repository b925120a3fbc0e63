import { Errno } from '../base/Errno.ts';
import { defineLayout, readLayout, viewOf, writeLayout } from './StructLayout.ts';

/**
 * The capability chain appended to info structs (vfio_device_info, vfio_region_info): each
 * capability starts with struct vfio_info_cap_header; `next` is the offset of the following one
 * from the START OF THE INFO BUFFER, 0 ends the chain. Like the kernel's vfio_info_cap_add(), each
 * capability is padded to a multiple of 8 bytes so the next one is u64-aligned.
 */
export const INFO_CAP_HEADER_SIZE = 8;

export const INFO_CAP_HEADER_LAYOUT = defineLayout('struct vfio_info_cap_header', INFO_CAP_HEADER_SIZE, {
  id: { offset: 0, type: 'u16', c: 'id' },
  version: { offset: 2, type: 'u16', c: 'version' },
  next: { offset: 4, type: 'u32', c: 'next' },
});

/** A capability to encode: its id, version and the bytes after the 8-byte header. */
export interface InfoCap {
  readonly id: number;
  readonly version: number;
  readonly body: Uint8Array;
}

/** A capability found while walking a chain. */
export interface FoundCap {
  readonly id: number;
  readonly version: number;
  /** Offset of its header from the start of the info buffer. */
  readonly offset: number;
  readonly next: number;
  /** Its bytes, header included, up to the next capability (or the end of the walked range). */
  readonly bytes: Uint8Array;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Bytes the encoded chain occupies. */
export function capChainSize(caps: readonly InfoCap[]): number {
  let n = 0;
  for (const c of caps) n += align8(INFO_CAP_HEADER_SIZE + c.body.byteLength);
  return n;
}

/** Encode a chain that will sit at offset `base` of the info buffer (`next` values include it). */
export function encodeCapChain(caps: readonly InfoCap[], base: number): Uint8Array {
  const out = new Uint8Array(capChainSize(caps));
  let at = 0;
  caps.forEach((c, i) => {
    const len = align8(INFO_CAP_HEADER_SIZE + c.body.byteLength);
    const next = i === caps.length - 1 ? 0 : base + at + len;
    writeLayout(INFO_CAP_HEADER_LAYOUT, out.subarray(at), { id: c.id, version: c.version, next });
    out.set(c.body, at + INFO_CAP_HEADER_SIZE);
    at += len;
  });
  return out;
}

/**
 * Walk the chain starting at `first` within `bytes` (the info buffer, cut to what the kernel
 * filled: min(argsz, length)). `first` = 0 means no chain. A header outside the buffer, a
 * misaligned one, or a `next` that does not move forward (a loop) gives -EINVAL.
 */
export function walkCapChain(bytes: Uint8Array, first: number): FoundCap[] | number {
  const found: FoundCap[] = [];
  let at = first;
  while (at !== 0) {
    if (at % 4 !== 0 || at + INFO_CAP_HEADER_SIZE > bytes.byteLength) return -Errno.EINVAL;
    const h = readLayout(INFO_CAP_HEADER_LAYOUT, bytes.subarray(at));
    if (h.next !== 0 && h.next <= at) return -Errno.EINVAL;
    const end = h.next === 0 ? bytes.byteLength : Math.min(h.next, bytes.byteLength);
    found.push({ id: h.id, version: h.version, offset: at, next: h.next, bytes: bytes.subarray(at, end) });
    at = h.next;
  }
  return found;
}

/**
 * Kernel side of an info ioctl with capabilities, as vfio-pci does it: `bytes` is the caller's
 * buffer whose argsz has already been checked against minsz, `infoSize` is sizeof(info) (where
 * the chain goes). The caller then writes the returned `capOffset` and `argsz` and sets the CAPS
 * flag. When argsz is too small for the chain, argsz reports the size needed, cap_offset is 0,
 * and nothing past the struct is written; otherwise the chain is copied after the struct.
 * Returns -EFAULT when argsz claims more bytes than the buffer has.
 */
export function placeCapChain(
  bytes: Uint8Array, argsz: number, infoSize: number, caps: readonly InfoCap[],
): { argsz: number; capOffset: number } | number {
  const needed = infoSize + capChainSize(caps);
  if (argsz < needed) return { argsz: needed, capOffset: 0 };
  if (bytes.byteLength < needed) return -Errno.EFAULT;
  bytes.set(encodeCapChain(caps, infoSize), infoSize);
  return { argsz, capOffset: infoSize };
}

/** u32 words to capability body bytes (little-endian). */
export function capBody(...words: number[]): Uint8Array {
  const body = new Uint8Array(words.length * 4);
  const view = viewOf(body);
  words.forEach((w, i) => view.setUint32(i * 4, w >>> 0, true));
  return body;
}
