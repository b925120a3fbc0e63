import { Disposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import { contiguousSource } from '../render/PixelSource.ts';
import type { RgbaImage } from '../render/Png.ts';
import { SoftwareRenderer } from '../render/SoftwareRenderer.ts';
import type { Rect as RenderRect } from '../render/SoftwareRenderer.ts';
import { HOTSPOT_UNKNOWN } from '../vgpu/Plane.ts';
import { DRM_FORMAT } from '../kms/Fourcc.ts';
import type { RemoteBuffer } from './BufferStore.ts';
import type { CursorState, IRenderer, PresentView, RenderTimings } from './IRenderer.ts';
import { checkPlane, isPlaneProblem, rowsOfBytes } from './PlaneCheck.ts';
import type { PlaneLayout, PlaneProblem } from './PlaneCheck.ts';
import { toDevice } from './Viewport.ts';

const BACKGROUND = '#17171a';

/** One plane converted by the CPU reference into an offscreen canvas of its size. */
class CpuLayer {
  public readonly renderer: SoftwareRenderer;
  public readonly canvas = document.createElement('canvas');
  private readonly _ctx: CanvasRenderingContext2D;
  private _image: ImageData | null = null;
  public buffer: RemoteBuffer | null = null;
  public plane: PlaneLayout | null = null;
  /** Rows to convert again, [y0, y1); `full` after a new buffer. */
  public damage: RenderRect[] = [];
  public full = true;

  public constructor(opaque: boolean) {
    this.renderer = new SoftwareRenderer({ opaquePrimary: opaque });
    this._ctx = this.canvas.getContext('2d')!;
  }

  public set(b: RemoteBuffer): PlaneProblem | undefined {
    const plane = checkPlane(b);
    if (isPlaneProblem(plane)) return plane;
    const status = this.renderer.setPrimary({
      source: contiguousSource(b.bytes.subarray(0, b.size)), drmFormat: b.drmFormat,
      modifier: b.modifier, width: b.width, height: b.height, stride: b.stride,
    });
    if (status !== 'ok') return { kind: 'geometry', message: status };
    this.buffer = b;
    this.plane = plane;
    this.full = true;
    this.damage = [];
    return undefined;
  }

  /** Convert what changed and copy it into the layer canvas. */
  public update(): void {
    if (this.buffer === null || (!this.full && this.damage.length === 0)) return;
    const r = this.renderer;
    const result = this.full ? r.render() : r.render(this.damage);
    if (this.canvas.width !== r.width || this.canvas.height !== r.height || this._image === null ||
      this._image.data.buffer !== r.clampedFramebuffer.buffer) {
      this.canvas.width = r.width;
      this.canvas.height = r.height;
      this._image = new ImageData(r.clampedFramebuffer as Uint8ClampedArray<ArrayBuffer>, r.width, r.height);
      this._ctx.putImageData(this._image, 0, 0);
    } else {
      for (const d of result.rects) this._ctx.putImageData(this._image, 0, 0, d.x, d.y, d.width, d.height);
    }
    this.full = false;
    this.damage = [];
  }
}

/**
 * Canvas2D fallback: the CPU reference compositor (render/SoftwareRenderer) converts the mirrored
 * raw bytes of the primary and of the cursor into two offscreen canvases (the same two layers as
 * the WebGL renderer); presenting draws them scaled with drawImage.
 */
export class Canvas2DRenderer extends Disposable implements IRenderer {
  public readonly kind = 'canvas';
  public readonly timings: RenderTimings = { upload: 0, decode: 0, present: 0 };
  private readonly _onContextLoss = this._register(new Emitter<void>());
  public readonly onContextLoss = this._onContextLoss.event;
  private readonly _ctx: CanvasRenderingContext2D;
  private _primary = new CpuLayer(true);
  private _cursor = new CpuLayer(false);
  private _hasPrimary = false;
  private _cursorShown = false;
  private _cursorX = 0;
  private _cursorY = 0;

  public constructor(public readonly canvas: HTMLCanvasElement) {
    super();
    const ctx = canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new RangeError('no 2d context on this canvas');
    this._ctx = ctx;
  }

  public get frameWidth(): number {
    return this._hasPrimary ? this._primary.renderer.width : 0;
  }

  public get frameHeight(): number {
    return this._hasPrimary ? this._primary.renderer.height : 0;
  }

  public updateBuffer(b: RemoteBuffer, lo: number, hi: number): void {
    for (const layer of [this._primary, this._cursor]) {
      if (layer.buffer !== b || layer.plane === null) continue;
      const [y0, y1] = rowsOfBytes(b, layer.plane.layout, lo, hi);
      if (y1 > y0) layer.damage.push({ x: 0, y: y0, width: b.width, height: y1 - y0 });
    }
  }

  public removeBuffer(b: RemoteBuffer): void {
    // The converted picture stays; the mirror bytes may still be read, so just stop tracking.
    if (this._primary.buffer === b) this._primary.buffer = null;
    if (this._cursor.buffer === b) {
      this._cursor.buffer = null;
      this._cursorShown = false;
    }
  }

  public setPrimary(b: RemoteBuffer | null): PlaneProblem | undefined {
    if (b === null) {
      this._primary.buffer = null;
      return undefined;
    }
    const problem = this._primary.set(b);
    if (problem === undefined) this._hasPrimary = true;
    return problem;
  }

  public setCursor(c: CursorState | null): PlaneProblem | undefined {
    if (c === null) {
      this._cursorShown = false;
      this._cursor.buffer = null;
      return undefined;
    }
    this._cursorX = c.x;
    this._cursorY = c.y;
    if (this._cursorShown && this._cursor.buffer === c.buffer) return undefined;
    const problem = this._cursor.set(c.buffer);
    this._cursorShown = problem === undefined;
    return problem;
  }

  public reset(): void {
    this._primary = new CpuLayer(true);
    this._cursor = new CpuLayer(false);
    this._hasPrimary = false;
    this._cursorShown = false;
  }

  public render(view: PresentView): void {
    let t = performance.now();
    this._primary.update();
    if (this._cursorShown) this._cursor.update();
    const t2 = performance.now();
    this.timings.decode = t2 - t;
    t = t2;
    const ctx = this._ctx;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const d = view.dest;
    if (this._hasPrimary && d.width > 0 && d.height > 0) {
      const p = this._primary.renderer;
      ctx.imageSmoothingEnabled = view.filter === 'linear';
      ctx.drawImage(this._primary.canvas, 0, 0, p.width, p.height, d.x, d.y, d.width, d.height);
      if (this._cursorShown) {
        const c = this._cursor.renderer;
        const r = toDevice(d, p.width, p.height,
          { x: this._cursorX, y: this._cursorY, width: c.width, height: c.height });
        ctx.save();
        ctx.beginPath();
        ctx.rect(d.x, d.y, d.width, d.height);
        ctx.clip();
        ctx.drawImage(this._cursor.canvas, 0, 0, c.width, c.height, r.x, r.y, r.width, r.height);
        ctx.restore();
      }
    }
    this.timings.present = performance.now() - t;
  }

  public snapshot(): RgbaImage | null {
    if (!this._hasPrimary) return null;
    this._primary.update();
    const p = this._primary.renderer;
    const rgba = new Uint8Array(p.framebuffer);
    if (this._cursorShown && this._cursor.buffer !== null) {
      // Compose with the CPU reference itself: primary pixels plus its own cursor blending.
      this._cursor.update();
      const c = this._cursor.buffer;
      const comp = new SoftwareRenderer({ opaquePrimary: true });
      comp.setPrimary({ source: contiguousSource(rgba), drmFormat: DRM_FORMAT.ABGR8888,
        modifier: 0n, width: p.width, height: p.height, stride: p.width * 4 });
      comp.setCursor({ source: contiguousSource(c.bytes.subarray(0, c.size)), drmFormat: c.drmFormat,
        modifier: c.modifier, width: c.width, height: c.height, stride: c.stride,
        x: this._cursorX, y: this._cursorY, hotX: HOTSPOT_UNKNOWN, hotY: HOTSPOT_UNKNOWN });
      comp.render();
      return { width: p.width, height: p.height, rgba: comp.framebuffer };
    }
    return { width: p.width, height: p.height, rgba };
  }

  public readScreen(view: PresentView, x: number, y: number): [number, number, number, number] {
    this.render(view);
    const d = this._ctx.getImageData(x, y, 1, 1).data;
    return [d[0]!, d[1]!, d[2]!, d[3]!];
  }
}
