import type { IDisposable } from '../../base/Disposable.ts';
import type { Event } from '../../base/Emitter.ts';
import type { TileLayout } from '../../kms/Tiling.ts';
import type { Surface } from './Surface.ts';

/** A display timing the monitor offers (from its EDID). */
export interface DisplayMode {
  readonly width: number;
  readonly height: number;
  /** Vertical refresh in Hz, when known. */
  readonly refresh?: number;
}

/** What a mode set programs: the pipe's source size, plus the scanout format and tiling. */
export interface ModeConfig {
  readonly width: number;
  readonly height: number;
  /** DRM fourcc of the primary plane. */
  readonly format: number;
  readonly tiling: TileLayout;
}

export interface SurfaceRequest {
  readonly width: number;
  readonly height: number;
  readonly format: number;
  readonly tiling: TileLayout;
  /** 'cursor' buffers go to the cursor plane (e.g. 64×64 ARGB8888). */
  readonly purpose: 'scanout' | 'cursor';
  /** Shown by `info` and logs. */
  readonly label?: string;
}

export interface DriverCaps {
  /** 'gvt', 'bochs', 'fake'. */
  readonly name: string;
  /** Primary plane formats (DRM fourcc), preferred first. */
  readonly formats: readonly number[];
  readonly tilings: readonly TileLayout[];
  /** Has a hardware cursor plane. */
  readonly cursor: boolean;
  /** Cursor image edge in pixels (64 for a 64×64 ARGB cursor). */
  readonly cursorSize: number;
  readonly minWidth: number;
  readonly minHeight: number;
  readonly maxWidth: number;
  readonly maxHeight: number;
}

/** Delivered with every vblank interrupt. */
export interface VblankInfo {
  /** The display's vblank counter (monotonic). */
  readonly seq: number;
  /** Register writes the device had applied when it latched this vblank (RegisterWindow.writeSeq). */
  readonly writesApplied: number;
}

/**
 * The guest's display driver, as fbcon and the graphical session use it. One implementation per
 * device (gvt: GGTT + pipe/plane registers; bochs: DISPI registers; a fake for tests).
 * Kernel-style: methods return 0 or `-errno` and never throw for bad input.
 */
export interface DisplayDriver extends IDisposable {
  readonly caps: DriverCaps;
  /** Bring the device up (GGTT setup, EDID read). 0 or -errno. */
  init(): number;
  /** Modes from the monitor's EDID, preferred first; empty when there is no EDID. */
  modes(): DisplayMode[];
  /** The mode programmed now, undefined before the first setMode. */
  readonly mode: ModeConfig | undefined;
  /** Would `setMode(m)` succeed? 0 or -EINVAL (size, format or tiling not supported). */
  checkMode(m: ModeConfig): number;
  /** Program the pipe (source size, enable). The shown surface is not changed. 0 or -errno. */
  setMode(m: ModeConfig): number;
  /** A buffer in guest memory the device can scan out. Surface, or -ENOMEM / -EINVAL. */
  allocSurface(req: SurfaceRequest): Surface | number;
  /** Release a buffer; deferred while it is shown or queued. */
  freeSurface(s: Surface): void;
  /** Program the primary plane to `s` (null disables it). Takes effect at the next vblank. */
  show(s: Surface | null): number;
  /** What the plane scans out now (latched at a vblank). */
  readonly front: Surface | null;
  /** A show() not yet latched: the surface, null (disable), or undefined when nothing is queued. */
  readonly pending: Surface | null | undefined;
  /** Cursor plane image (null hides it) and its hotspot inside the image. 0 or -errno. */
  setCursor(image: Surface | null, hotX: number, hotY: number): number;
  /** Cursor plane position: the image's top-left in CRTC coordinates (may be negative). */
  moveCursor(x: number, y: number): void;
  /** Interrupt entry, called by the kernel for every vblank: latches queued state, fires events. */
  vblank(info: VblankInfo): void;
  /** After each vblank has been processed. */
  readonly onVblank: Event<VblankInfo>;
  /** A queued show() took effect (the new front). */
  readonly onFlip: Event<Surface | null>;
  /** The monitor was (re)connected or its EDID changed: modes() may differ. */
  readonly onHotplug: Event<void>;
  /** Lines for the shell's `info`: the device as the guest sees it (registers, planes). */
  info(): string[];
}
