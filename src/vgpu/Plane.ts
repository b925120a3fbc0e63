import type { Event } from '../base/Emitter.ts';
import type { GuestMemory } from '../gpu/GuestMemory.ts';

/**
 * A display plane as the mediator decoded it from the guest's registers, validated: every page in
 * `pages` belongs to the VM's own memory. The vfio layer turns this into
 * `struct vfio_device_gfx_plane_info` and into dma-buf objects.
 */
export interface DecodedPlane {
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  /** Bytes per row (per tile row for tiled layouts: bytes per row of the untiled surface). */
  readonly stride: number;
  /** Bytes: stride × tile-rounded height (GVT), stride × height (bochs), region size (mdpy). */
  readonly size: number;
  /** Buffer address in the device's own address space: GMA (gvt), VRAM offset (bochs). */
  readonly start: number;
  /** Guest physical page numbers backing the buffer, in order: ceil(size / 4096) entries. */
  readonly pages: Uint32Array;
  /** Cursor position, u32 as the ABI reports it (a negative position is two's complement). */
  readonly xPos: number;
  readonly yPos: number;
  /** Cursor hotspot; 0xFFFFFFFF = unknown. */
  readonly xHot: number;
  readonly yHot: number;
}

/** Result of decoding: a plane, `null` for a plane the guest disabled, or a negative errno. */
export type PlaneDecode = DecodedPlane | null | number;

export const HOTSPOT_UNKNOWN = 0xffffffff;

/** What changed on the display side; the mediator signals the event channel for each. */
export type DisplayEventKind = 'flip' | 'plane' | 'mode' | 'cursor';

export interface DisplayEvent {
  readonly kind: DisplayEventKind;
  /** DRM plane type concerned (PRIMARY/CURSOR/OVERLAY). */
  readonly planeType: number;
}

/**
 * What every mediated device model offers the vfio layer. Register semantics are per device;
 * the ABI encoding is not here (vfio/ does it).
 */
export interface MediatedDevice {
  readonly kind: 'gvt' | 'bochs' | 'region';
  /** The VM's memory: every page a decoded plane names is inside it. */
  readonly memory: GuestMemory;
  /** Decode the plane of the given DRM plane type. Never throws. */
  decodePlane(planeType: number): PlaneDecode;
  /** A vblank: pending flips latch now. */
  vblank(): void;
  /** Fired on latched flips, plane enable/disable, mode changes, cursor moves. */
  readonly onDisplayEvent: Event<DisplayEvent>;
  /** Device reset (VFIO_DEVICE_RESET): registers back to power-on values. */
  reset(): void;
}
