import type { DecodedPlane } from '../vgpu/Plane.ts';

const hashes = new WeakMap<Uint32Array, number>();

/**
 * FNV-1a over the page list: a cheap fingerprint, made exact by comparing pages on a hit. The GGTT
 * hands out the same array while a VM's mappings are unchanged, so the hash is remembered per
 * array and a QUERY per refresh does not walk the pages again.
 */
export function pagesHash(pages: Uint32Array): number {
  const known = hashes.get(pages);
  if (known !== undefined) return known;
  let h = 0x811c9dc5;
  for (let i = 0; i < pages.length; i++) {
    h ^= pages[i]!;
    h = Math.imul(h, 0x01000193);
  }
  hashes.set(pages, h >>> 0);
  return h >>> 0;
}

/**
 * GVT's cache identity (pick_dmabuf_by_info): start, backing pages, size, format, modifier,
 * width, height. Stride, position and hotspot are outputs, not identity.
 */
export function gvtKey(p: DecodedPlane): string {
  return `${p.start}|${p.size}|${p.drmFormat}|${p.modifier}|${p.width}x${p.height}|${pagesHash(p.pages)}`;
}

/** mbochs' identity: the whole mode (format, size, stride, offset) compared with memcmp. */
export function bochsKey(p: DecodedPlane): string {
  return `${p.start}|${p.size}|${p.drmFormat}|${p.width}x${p.height}|${p.stride}`;
}
