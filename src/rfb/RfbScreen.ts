import { Disposable } from '../base/Disposable.ts';
import type { Rect } from '../display/DisplayBuffer.ts';
import { SoftwareRenderer } from '../render/SoftwareRenderer.ts';
import type { BufferShadow } from '../server/BufferShadow.ts';
import type { ChannelCursor, VmChannel } from '../server/VmChannel.ts';
import { BlockRects } from './BlockRects.ts';

/** The guest cursor plane as RGBA8 with its hotspot, for the Cursor pseudo-encoding. */
export interface CursorImage {
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly hotX: number;
  readonly hotY: number;
}

/**
 * One VM's display as every VNC client of it sees it: the channel's shown primary (whose
 * BufferShadow block hashes say what changed), the geometry of its blocks, its pixels as RGBA8
 * (one software renderer per live buffer, converting only the rectangles asked for), and the
 * cursor image. Shared by all RFB clients of the VM; holds the channel while it lives.
 */
export class RfbScreen extends Disposable {
  public readonly channel: VmChannel;
  /** The channel's state moved on: clients with a pending request look for changes. */
  public readonly onChange;
  private readonly _renderers = new Map<BufferShadow, SoftwareRenderer>();
  private readonly _geometry = new Map<BufferShadow, BlockRects>();
  private _cursorFor: ChannelCursor | undefined;
  private _cursor: CursorImage | undefined;
  /** Primary pixels converted to RGBA for VNC clients (the one conversion VNC needs). */
  public pixelsConverted = 0;

  public constructor(channel: VmChannel) {
    super();
    this.channel = channel;
    this.onChange = channel.onChange;
    this._register(channel.join());
    this._register(channel.onRelease((s) => {
      this._renderers.delete(s);
      this._geometry.delete(s);
    }));
  }

  public get primary(): BufferShadow | undefined {
    const p = this.channel.primary;
    return p !== undefined && p.alive ? p : undefined;
  }

  public geometry(s: BufferShadow): BlockRects {
    let g = this._geometry.get(s);
    if (g === undefined) {
      g = new BlockRects(s.buffer);
      this._geometry.set(s, g);
    }
    return g;
  }

  /**
   * Convert `rects` of buffer `s` from guest memory and return its RGBA8 frame (width × 4 bytes
   * per row), or undefined when the buffer cannot be shown (format, geometry, gone).
   */
  public render(s: BufferShadow, rects: readonly Rect[]): Uint8Array | undefined {
    if (!s.alive) return undefined;
    let r = this._renderers.get(s);
    if (r === undefined) {
      r = new SoftwareRenderer({ opaquePrimary: true });
      const b = s.buffer;
      const status = r.setPrimary({
        source: b.mapping, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height, stride: b.stride,
      });
      if (status !== 'ok') return undefined;
      this._renderers.set(s, r);
    }
    const res = r.render(rects);
    if (res.status !== 'ok') return undefined;
    this.pixelsConverted += res.pixelsConverted;
    return r.framebuffer;
  }

  /** The cursor plane's image, converted once per cursor define; undefined without one. */
  public get cursor(): CursorImage | undefined {
    const c = this.channel.cursor;
    if (c === this._cursorFor) return this._cursor;
    this._cursorFor = c;
    this._cursor = undefined;
    const s = c.shadow;
    if (s === undefined || !s.alive) return undefined;
    const b = s.buffer;
    const r = new SoftwareRenderer();
    if (r.setPrimary({
      source: b.mapping, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height, stride: b.stride,
    }) !== 'ok' || r.render().status !== 'ok') return undefined;
    this._cursor = { rgba: r.framebuffer, width: b.width, height: b.height, hotX: c.hotX, hotY: c.hotY };
    return this._cursor;
  }
}
