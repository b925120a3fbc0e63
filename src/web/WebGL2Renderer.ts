import { Disposable, toDisposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import type { RgbaImage } from '../render/Png.ts';
import { StoreLimits } from './BufferStore.ts';
import type { RemoteBuffer } from './BufferStore.ts';
import { createProgram, uniforms } from './GlUtils.ts';
import type { CursorState, IRenderer, PresentView, RenderTimings } from './IRenderer.ts';
import { checkPlane, isPlaneProblem, rowsOfBytes } from './PlaneCheck.ts';
import type { PlaneLayout, PlaneProblem } from './PlaneCheck.ts';
import { DECODE_FS, DECODE_VS, PRESENT_FS, PRESENT_VS, shaderFormat, shaderLayout } from './ShaderFormat.ts';
import type { ShaderFormat } from './ShaderFormat.ts';
import { toDevice } from './Viewport.ts';
import type { Rect } from './Viewport.ts';

/** The raw bytes of one remote buffer on the GPU, and the byte range not uploaded yet. */
interface RawTexture {
  readonly tex: WebGLTexture;
  /** Texels (4 bytes each) per row, and rows. */
  readonly texW: number;
  readonly texH: number;
  dirtyLo: number;
  dirtyHi: number;
}

/** A decoded plane: RGBA8 texture the size of the plane, with its framebuffer. */
interface Decoded {
  readonly tex: WebGLTexture;
  readonly fbo: WebGLFramebuffer;
  readonly width: number;
  readonly height: number;
}

/** A plane being shown: its buffer, how to read it, and which rows need decoding again. */
interface Layer {
  readonly buffer: RemoteBuffer;
  readonly plane: PlaneLayout;
  readonly format: ShaderFormat;
  dirtyY0: number;
  dirtyY1: number;
}

const BACKGROUND = [0.09, 0.09, 0.1, 1] as const;

const DECODE_UNIFORMS = ['u_raw', 'u_texW', 'u_stride', 'u_layout', 'u_kind', 'u_cpp', 'u_shift',
  'u_bits', 'u_yuv'] as const;
const PRESENT_UNIFORMS = ['u_tex', 'u_dst', 'u_src'] as const;

/**
 * WebGL2 renderer: one RGBA8UI texture of raw guest bytes per remote buffer (BUFFER_DATA
 * re-uploads only the texture rows it touched), decoded by a fragment shader (format and X/Y
 * detiling) into an RGBA8 texture per layer, then presented as two quads — primary, and the
 * cursor blended on top. A cursor move re-presents; the primary is decoded only when its bytes
 * change or another buffer is scanned out.
 */
export class WebGL2Renderer extends Disposable implements IRenderer {
  public readonly kind = 'webgl';
  public readonly timings: RenderTimings = { upload: 0, decode: 0, present: 0 };
  private readonly _onContextLoss = this._register(new Emitter<void>());
  public readonly onContextLoss = this._onContextLoss.event;

  private readonly _gl: WebGL2RenderingContext;
  private readonly _decodeProg: WebGLProgram;
  private readonly _decodeU: Record<(typeof DECODE_UNIFORMS)[number], WebGLUniformLocation | null>;
  private readonly _presentProg: WebGLProgram;
  private readonly _presentU: Record<(typeof PRESENT_UNIFORMS)[number], WebGLUniformLocation | null>;
  private readonly _maxTexture: number;
  private readonly _raw = new Map<RemoteBuffer, RawTexture>();
  private _primary: Layer | null = null;
  private _primaryOut: Decoded | null = null;
  private _cursor: Layer | null = null;
  private _cursorOut: Decoded | null = null;
  private _cursorX = 0;
  private _cursorY = 0;
  private _snap: Decoded | null = null;
  private _lost = false;

  /** A renderer on `canvas`, or why WebGL2 is not available (the owner falls back to Canvas2D). */
  public static create(canvas: HTMLCanvasElement): WebGL2Renderer | string {
    let gl: WebGL2RenderingContext | null = null;
    try {
      gl = canvas.getContext('webgl2', { alpha: false, antialias: false, depth: false,
        stencil: false, premultipliedAlpha: false, preserveDrawingBuffer: false });
    } catch (e) {
      return `WebGL2 failed: ${String(e)}`;
    }
    if (gl === null) return 'WebGL2 is not available in this browser';
    try {
      return new WebGL2Renderer(canvas, gl);
    } catch (e) {
      return `WebGL2 setup failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  private constructor(public readonly canvas: HTMLCanvasElement, gl: WebGL2RenderingContext) {
    super();
    this._gl = gl;
    this._decodeProg = createProgram(gl, DECODE_VS, DECODE_FS);
    this._decodeU = uniforms(gl, this._decodeProg, DECODE_UNIFORMS);
    this._presentProg = createProgram(gl, PRESENT_VS, PRESENT_FS);
    this._presentU = uniforms(gl, this._presentProg, PRESENT_UNIFORMS);
    this._maxTexture = gl.getParameter(gl.MAX_TEXTURE_SIZE) as number;
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.PACK_ALIGNMENT, 1);
    const lost = (e: Event): void => {
      // Without preventDefault the context is never restored; we fall back instead.
      e.preventDefault();
      if (this._lost) return;
      this._lost = true;
      this._onContextLoss.fire();
    };
    canvas.addEventListener('webglcontextlost', lost);
    this._register(toDisposable(() => {
      canvas.removeEventListener('webglcontextlost', lost);
      this._freeAll();
      gl.deleteProgram(this._decodeProg);
      gl.deleteProgram(this._presentProg);
    }));
  }

  // The size of what the next render shows: a new primary counts before it is decoded, so the
  // owner sizes the canvas and the destination for it.
  public get frameWidth(): number {
    return this._primary?.buffer.width ?? this._primaryOut?.width ?? 0;
  }

  public get frameHeight(): number {
    return this._primary?.buffer.height ?? this._primaryOut?.height ?? 0;
  }

  public updateBuffer(b: RemoteBuffer, lo: number, hi: number): void {
    // Every buffer gets its texture with its first bytes (uploaded at the next render), so a
    // later flip to it costs no upload at all.
    const raw = this._raw.get(b) ?? this._createRaw(b);
    if (raw !== undefined) {
      raw.dirtyLo = Math.min(raw.dirtyLo, lo);
      raw.dirtyHi = Math.max(raw.dirtyHi, hi);
    }
    for (const layer of [this._primary, this._cursor]) {
      if (layer === null || layer.buffer !== b) continue;
      const [y0, y1] = rowsOfBytes(b, layer.plane.layout, lo, hi);
      layer.dirtyY0 = Math.min(layer.dirtyY0, y0);
      layer.dirtyY1 = Math.max(layer.dirtyY1, y1);
    }
  }

  public removeBuffer(b: RemoteBuffer): void {
    const raw = this._raw.get(b);
    if (raw === undefined) return;
    this._gl.deleteTexture(raw.tex);
    this._raw.delete(b);
    // The decoded picture stays on screen; only the source is gone.
    if (this._primary?.buffer === b) this._primary = null;
    if (this._cursor?.buffer === b) this._cursor = null;
  }

  public setPrimary(b: RemoteBuffer | null): PlaneProblem | undefined {
    if (b === null) {
      this._primary = null;
      return undefined;
    }
    const layer = this._layer(b, true);
    if (isPlaneProblem(layer)) return layer;
    this._primary = layer;
    return undefined;
  }

  public setCursor(c: CursorState | null): PlaneProblem | undefined {
    if (c === null) {
      this._cursor = null;
      this._freeDecoded(this._cursorOut);
      this._cursorOut = null;
      return undefined;
    }
    this._cursorX = c.x;
    this._cursorY = c.y;
    if (this._cursor?.buffer === c.buffer) return undefined;
    const layer = this._layer(c.buffer, false);
    if (isPlaneProblem(layer)) {
      this._cursor = null;
      this._freeDecoded(this._cursorOut);
      this._cursorOut = null;
      return layer;
    }
    this._cursor = layer;
    return undefined;
  }

  public reset(): void {
    this._freeAll();
  }

  public render(view: PresentView): void {
    if (this._lost) return;
    this._prepare();
    const t = performance.now();
    const gl = this._gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    this._present(view, this.canvas.width, this.canvas.height, false);
    this.timings.present = performance.now() - t;
  }

  public snapshot(): RgbaImage | null {
    if (this._lost) return null;
    // Decode first: a primary set since the last animation frame has no decoded picture yet.
    this._prepare();
    if (this._primaryOut === null) return null;
    const gl = this._gl;
    const { width, height } = this._primaryOut;
    if (this._snap === null || this._snap.width !== width || this._snap.height !== height) {
      this._freeDecoded(this._snap);
      this._snap = this._target(width, height);
    }
    gl.bindFramebuffer(gl.FRAMEBUFFER, this._snap.fbo);
    this._present({ dest: { x: 0, y: 0, width, height }, filter: 'nearest' }, width, height, true);
    const rgba = new Uint8Array(width * height * 4);
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    return { width, height, rgba };
  }

  public readScreen(view: PresentView, x: number, y: number): [number, number, number, number] {
    // The drawing buffer is only valid in the task that drew it (preserveDrawingBuffer false).
    this.render(view);
    const px = new Uint8Array(4);
    this._gl.readPixels(x, this.canvas.height - 1 - y, 1, 1, this._gl.RGBA, this._gl.UNSIGNED_BYTE, px);
    return [px[0]!, px[1]!, px[2]!, px[3]!];
  }

  // ---- internals ---------------------------------------------------------------------------

  private _layer(b: RemoteBuffer, opaque: boolean): Layer | PlaneProblem {
    const plane = checkPlane(b);
    if (isPlaneProblem(plane)) return plane;
    const format = shaderFormat(b.drmFormat, opaque);
    if (format === undefined) return { kind: 'format', message: `no shader for format ${b.drmFormat}` };
    const max = this._maxTexture;
    const rows = Math.ceil(b.size / StoreLimits.ROW_BYTES);
    if (b.width > max || b.height > max || rows > max) {
      return { kind: 'geometry', message: `${b.width}x${b.height} exceeds this GPU's ${max} texture limit` };
    }
    return { buffer: b, plane, format, dirtyY0: 0, dirtyY1: b.height };
  }

  /** Upload dirty bytes and decode dirty rows of the shown planes. */
  private _prepare(): void {
    const gl = this._gl;
    let t = performance.now();
    for (const layer of [this._primary, this._cursor]) {
      if (layer !== null && !this._raw.has(layer.buffer)) this._createRaw(layer.buffer);
    }
    gl.activeTexture(gl.TEXTURE0);
    for (const [b, raw] of this._raw) {
      if (raw.dirtyHi <= raw.dirtyLo) continue;
      // Whole texture rows: the mirror is padded to ROW_BYTES, so the rows always exist.
      const rowBytes = raw.texW * 4;
      const r0 = Math.floor(raw.dirtyLo / rowBytes);
      const r1 = Math.min(raw.texH, Math.ceil(raw.dirtyHi / rowBytes));
      gl.bindTexture(gl.TEXTURE_2D, raw.tex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, r0, raw.texW, r1 - r0, gl.RGBA_INTEGER, gl.UNSIGNED_BYTE,
        b.bytes, r0 * rowBytes);
      raw.dirtyLo = Infinity;
      raw.dirtyHi = 0;
    }
    const t2 = performance.now();
    this.timings.upload = t2 - t;
    t = t2;
    if (this._primary !== null) this._primaryOut = this._decode(this._primary, this._primaryOut);
    if (this._cursor !== null) this._cursorOut = this._decode(this._cursor, this._cursorOut);
    this.timings.decode = performance.now() - t;
  }

  /** The raw texture of `b`, or undefined when it exceeds the GPU's texture size. */
  private _createRaw(b: RemoteBuffer): RawTexture | undefined {
    const gl = this._gl;
    const words = Math.ceil(b.size / 4);
    const texW = Math.max(1, Math.min(StoreLimits.ROW_BYTES / 4, words));
    const texH = Math.ceil(words / texW);
    if (texH > this._maxTexture) return undefined;
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    // Integer textures must use NEAREST or they are incomplete (texelFetch would read zeros).
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8UI, texW, texH);
    const raw: RawTexture = { tex, texW, texH, dirtyLo: 0, dirtyHi: texW * texH * 4 };
    this._raw.set(b, raw);
    return raw;
  }

  private _target(width: number, height: number): Decoded {
    const gl = this._gl;
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8, width, height);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    const fbo = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    return { tex, fbo, width, height };
  }

  /** Decode the dirty rows of `layer` into `out` (reallocated when the size changed). */
  private _decode(layer: Layer, out: Decoded | null): Decoded {
    const gl = this._gl;
    const b = layer.buffer;
    if (out === null || out.width !== b.width || out.height !== b.height) {
      this._freeDecoded(out);
      out = this._target(b.width, b.height);
      layer.dirtyY0 = 0;
      layer.dirtyY1 = b.height;
    }
    if (layer.dirtyY1 <= layer.dirtyY0) return out;
    const raw = this._raw.get(b)!;
    const f = layer.format;
    const u = this._decodeU;
    gl.bindFramebuffer(gl.FRAMEBUFFER, out.fbo);
    gl.viewport(0, 0, out.width, out.height);
    gl.enable(gl.SCISSOR_TEST);
    // Framebuffer row y is guest row y, so the dirty band is a scissor rectangle as it is.
    gl.scissor(0, layer.dirtyY0, out.width, layer.dirtyY1 - layer.dirtyY0);
    gl.disable(gl.BLEND);
    gl.useProgram(this._decodeProg);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, raw.tex);
    gl.uniform1i(u.u_raw, 0);
    gl.uniform1ui(u.u_texW, raw.texW);
    gl.uniform1ui(u.u_stride, b.stride);
    gl.uniform1i(u.u_layout, shaderLayout(layer.plane.layout));
    gl.uniform1i(u.u_kind, f.kind);
    gl.uniform1i(u.u_cpp, f.cpp);
    gl.uniform4i(u.u_shift, ...f.shift);
    gl.uniform4i(u.u_bits, ...f.bits);
    gl.uniform4i(u.u_yuv, ...f.yuv);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    gl.disable(gl.SCISSOR_TEST);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    layer.dirtyY0 = Infinity;
    layer.dirtyY1 = 0;
    return out;
  }

  /**
   * Draw primary then cursor into the bound framebuffer of `tw`×`th`. `flipY`: guest row 0 at
   * framebuffer row 0 (offscreen readback, top-down), else at the top of the canvas.
   */
  private _present(view: PresentView, tw: number, th: number, flipY: boolean): void {
    const gl = this._gl;
    gl.viewport(0, 0, tw, th);
    gl.disable(gl.SCISSOR_TEST);
    gl.disable(gl.BLEND);
    gl.clearColor(...BACKGROUND);
    gl.clear(gl.COLOR_BUFFER_BIT);
    const p = this._primaryOut;
    if (p === null || view.dest.width <= 0 || view.dest.height <= 0) return;
    gl.useProgram(this._presentProg);
    gl.activeTexture(gl.TEXTURE0);
    gl.uniform1i(this._presentU.u_tex, 0);
    this._quad(p, view.dest, view.filter, tw, th, flipY);
    const c = this._cursorOut;
    if (c === null || this._cursor === null) return;
    const r = toDevice(view.dest, p.width, p.height,
      { x: this._cursorX, y: this._cursorY, width: c.width, height: c.height });
    // The cursor is clipped to the frame, as scanout hardware clips it to the pipe.
    const d = view.dest;
    gl.enable(gl.SCISSOR_TEST);
    gl.scissor(d.x, flipY ? d.y : th - d.y - d.height, d.width, d.height);
    gl.enable(gl.BLEND);
    gl.blendFuncSeparate(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA, gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    this._quad(c, r, view.filter, tw, th, flipY);
    gl.disable(gl.BLEND);
    gl.disable(gl.SCISSOR_TEST);
  }

  private _quad(src: Decoded, r: Rect, filter: 'nearest' | 'linear', tw: number, th: number,
    flipY: boolean): void {
    const gl = this._gl;
    gl.bindTexture(gl.TEXTURE_2D, src.tex);
    const f = filter === 'linear' ? gl.LINEAR : gl.NEAREST;
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, f);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, f);
    const x0 = (r.x / tw) * 2 - 1;
    const x1 = ((r.x + r.width) / tw) * 2 - 1;
    const yTop = flipY ? (r.y / th) * 2 - 1 : 1 - (r.y / th) * 2;
    const yBottom = flipY ? ((r.y + r.height) / th) * 2 - 1 : 1 - ((r.y + r.height) / th) * 2;
    gl.uniform4f(this._presentU.u_dst, x0, yTop, x1, yBottom);
    gl.uniform4f(this._presentU.u_src, 0, 0, 1, 1);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  private _freeDecoded(d: Decoded | null): void {
    if (d === null) return;
    this._gl.deleteFramebuffer(d.fbo);
    this._gl.deleteTexture(d.tex);
  }

  private _freeAll(): void {
    for (const raw of this._raw.values()) this._gl.deleteTexture(raw.tex);
    this._raw.clear();
    this._freeDecoded(this._primaryOut);
    this._freeDecoded(this._cursorOut);
    this._freeDecoded(this._snap);
    this._primaryOut = this._cursorOut = this._snap = null;
    this._primary = this._cursor = null;
  }
}
