import type { IDisposable } from '../base/Disposable.ts';
import type { Event } from '../base/Emitter.ts';
import type { RgbaImage } from '../render/Png.ts';
import type { RemoteBuffer } from './BufferStore.ts';
import type { PlaneProblem } from './PlaneCheck.ts';
import type { Rect } from './Viewport.ts';

/** How the frame is presented on the canvas (device pixels). */
export interface PresentView {
  /** Where the guest frame goes; see Viewport.destRect. */
  readonly dest: Rect;
  readonly filter: 'nearest' | 'linear';
}

/** The cursor plane: a buffer, its top-left on screen (signed guest pixels) and hotspot. */
export interface CursorState {
  readonly buffer: RemoteBuffer;
  readonly x: number;
  readonly y: number;
}

/** Time spent in the last render, ms (stats overlay). */
export interface RenderTimings {
  upload: number;
  decode: number;
  present: number;
}

/**
 * A viewer renderer (xterm.js style: one interface, WebGL2 and Canvas2D implementations, one
 * pixel suite run against both). Renderers hold the decoded primary and cursor on separate
 * layers: a cursor move only re-presents, it never decodes the primary again.
 */
export interface IRenderer extends IDisposable {
  readonly kind: 'webgl' | 'canvas';
  readonly canvas: HTMLCanvasElement;
  readonly timings: RenderTimings;
  /** Fired when the renderer can no longer draw (WebGL context lost); the owner falls back. */
  readonly onContextLoss: Event<void>;
  /** Bytes [lo, hi) of `b` changed: upload (later, at render) and redecode if shown. */
  updateBuffer(b: RemoteBuffer, lo: number, hi: number): void;
  /** `b` is gone: free whatever the renderer keeps for it (the shown picture stays). */
  removeBuffer(b: RemoteBuffer): void;
  /** Show `b` as the primary plane (null: keep the last picture). A problem leaves it unchanged. */
  setPrimary(b: RemoteBuffer | null): PlaneProblem | undefined;
  /** Cursor plane (null: hidden). */
  setCursor(c: CursorState | null): PlaneProblem | undefined;
  /** Forget every picture and buffer (a new connection). */
  reset(): void;
  /** Size of the shown picture (the guest resolution), 0×0 before the first primary. */
  readonly frameWidth: number;
  readonly frameHeight: number;
  /** Upload, decode what changed and present to the canvas (sized by the owner). */
  render(view: PresentView): void;
  /** The composed frame (primary + cursor) at guest resolution, or null without a primary. */
  snapshot(): RgbaImage | null;
  /** RGBA of canvas pixel (x, y) in device pixels, top-left origin, as last presented. */
  readScreen(view: PresentView, x: number, y: number): [number, number, number, number];
}
