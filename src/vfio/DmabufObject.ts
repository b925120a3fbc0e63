import type { GuestMemory } from '../gpu/GuestMemory.ts';
import type { DecodedPlane } from '../vgpu/Plane.ts';

/**
 * The device-side buffer object behind a `dmabuf_id` (GVT's intel_vgpu_dmabuf_obj). It names a
 * buffer's identity (pages, format, size…) and lives while it is listed in the device cache or
 * referenced by an exported dma-buf file.
 *
 * States: `listed` (in the device cache), `orphan` (the device went away while exported: mapping
 * fails with -ENODEV, final close frees it without touching the device), `freed`.
 */
export class DmabufObject {
  public state: 'listed' | 'orphan' | 'freed' = 'listed';
  /** GVT's `initref`: a query holds the object alive until the next GET. */
  public initref = true;
  /** Live exported dma-buf files referencing this object. */
  public exports = 0;
  /** Monotonic use stamp for LRU eviction of unexported objects. */
  public lastUsed = 0;

  public constructor(
    public readonly id: number,
    public readonly key: string,
    /** The latest decode that matched this object (outputs such as stride/pos come from it). */
    public plane: DecodedPlane,
    public readonly memory: GuestMemory,
  ) {}

  /**
   * Re-translate the buffer's pages at map time (GVT's get_pages reads the GGTT again and pins
   * each page, B5). Null when a page no longer maps to the VM's memory. Unset: pages are fixed
   * (VRAM, an mdpy framebuffer).
   */
  public resolvePages: (() => Uint32Array | null) | undefined;

  public get pages(): Uint32Array {
    return this.plane.pages;
  }

  public get size(): number {
    return this.plane.size;
  }
}
