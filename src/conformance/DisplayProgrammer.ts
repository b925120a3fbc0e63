import type { DeviceFamily } from './Check.ts';

/** A scanout mode the suite asks a programming layer for. */
export interface ModeRequest {
  readonly width: number;
  readonly height: number;
  /** bochs: VIRT_WIDTH in pixels (default: width). */
  readonly virtWidth?: number;
  /** bochs: X_OFFSET in pixels (an unaligned pan when not a multiple of 1024). */
  readonly xOffset?: number;
  /** gvt: surface tiling (default linear). */
  readonly tiling?: 'linear' | 'x' | 'y';
}

/** What QUERY must then report for the primary plane. */
export interface ExpectedPlane {
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
}

/**
 * The guest's side of a dma-buf display device, programmed through the device file only
 * (pwrite/pread/mmap of its regions, offsets read from GET_REGION_INFO): enough to put a mode on
 * the screen, page-flip between two buffers and write pixels into them.
 * Every method returns 0 (or a value) on success and -errno on failure; nothing throws.
 */
export interface DisplayProgrammer {
  readonly family: DeviceFamily;
  /** true when flips can be latched (GVT needs a vblank); else why not. */
  readonly latch: true | string;
  /** Discover regions and device parameters. Call once before anything else. */
  prepare(): number;
  /** Program a mode scanning out buffer 0; the expected QUERY outputs, or -errno. */
  setMode(mode: ModeRequest): ExpectedPlane | number;
  /** Turn the primary plane off. */
  disable(): number;
  /** Scan out buffer 0 or 1 of the current mode (a page flip). */
  flip(buffer: 0 | 1): number;
  /** Store a u32 at byte `offset` of buffer `buffer` of the current mode, as the guest would. */
  writePixel(buffer: 0 | 1, offset: number, value: number): number;
  /** Release mappings. */
  dispose(): void;
}
