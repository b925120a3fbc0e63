import type { Mapping } from '../vfio/Sys.ts';

/** A rectangle in framebuffer pixels (same shape as render/SoftwareRenderer's Rect). */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Where a buffer came from: a dma-buf fd (zero copy) or the client's staging copy of a region. */
export type BufferKind = 'dmabuf' | 'region';

/**
 * A guest buffer handed to renderers. `mapping` is read-only and zero-copy on the dma-buf path (a
 * contiguous buffer is one chunk, a scattered one a chunk per run of pages); on the region path it
 * is the client's staging copy. The object is the identity a renderer keys its texture on: it is
 * handed out once per cache entry and released (onRelease) after its fd was closed.
 */
export interface DisplayBuffer {
  /** dmabuf_id (dma-buf path) or region_index (region path). */
  readonly id: number;
  /** The dma-buf fd this client holds; -1 on the region path. */
  readonly fd: number;
  readonly kind: BufferKind;
  /** DRM plane type the buffer was first seen on (PRIMARY 1, CURSOR 2). */
  readonly planeType: number;
  readonly mapping: Mapping;
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
}

/** The whole of a buffer as one damage rectangle. */
export function fullRect(width: number, height: number): Rect {
  return { x: 0, y: 0, width, height };
}
