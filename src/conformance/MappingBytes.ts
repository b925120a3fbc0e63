import type { Mapping } from '../vfio/Sys.ts';

/**
 * Byte access inside a Mapping, which may be several chunks (a scattered dma-buf). Accesses of
 * up to 4 bytes at 4-aligned offsets never straddle a chunk (chunks are whole pages).
 */
function locate(map: Mapping, off: number): { chunk: Uint8Array; at: number } | undefined {
  if (!Number.isInteger(off) || off < 0 || off >= map.length) return undefined;
  for (let i = map.chunks.length - 1; i >= 0; i--) {
    const start = map.chunkOffsets[i]!;
    if (off >= start) {
      const chunk = map.chunks[i]!;
      return off - start < chunk.byteLength ? { chunk, at: off - start } : undefined;
    }
  }
  return undefined;
}

/** The little-endian u32 at `off`, or undefined outside the mapping. */
export function mappingReadU32(map: Mapping, off: number): number | undefined {
  const l = locate(map, off);
  if (!l || l.at + 4 > l.chunk.byteLength) return undefined;
  return new DataView(l.chunk.buffer, l.chunk.byteOffset + l.at, 4).getUint32(0, true);
}

/** Store a little-endian u32 at `off`; false outside the mapping. */
export function mappingWriteU32(map: Mapping, off: number, value: number): boolean {
  const l = locate(map, off);
  if (!l || l.at + 4 > l.chunk.byteLength) return false;
  new DataView(l.chunk.buffer, l.chunk.byteOffset + l.at, 4).setUint32(0, value >>> 0, true);
  return true;
}
