import { Disposable } from '../base/Disposable.ts';
import { SoftwareRenderer } from '../render/SoftwareRenderer.ts';
import type { BufferShadow } from '../server/BufferShadow.ts';
import type { ChannelCursor, VmChannel } from '../server/VmChannel.ts';
import { ScreenShadow } from './ScreenShadow.ts';

/** The guest cursor plane as RGBA8 with its hotspot, for the Cursor pseudo-encoding. */
export interface CursorImage {
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly hotX: number;
  readonly hotY: number;
}

/**
 * One VM's display as every VNC client of it sees it: the channel's shown primary, the one
 * ScreenShadow all its clients are encoded from (each client holds a view of it: what it lacks),
 * and the cursor image. Shared by all RFB clients of the VM; holds the channel while it lives.
 */
export class RfbScreen extends Disposable {
  public readonly channel: VmChannel;
  /** The channel's state moved on: clients with a pending request look for changes. */
  public readonly onChange;
  public readonly shadow = new ScreenShadow();
  private _cursorFor: ChannelCursor | undefined;
  private _cursor: CursorImage | undefined;

  public constructor(channel: VmChannel) {
    super();
    this.channel = channel;
    this.onChange = channel.onChange;
    this._register(channel.join());
    // The shadow follows every change (its listeners run before the clients'): a client that is
    // not asking now accumulates what changed under it, and moves stay exact for it.
    this._register(channel.onChange(() => this.refresh()));
  }

  public get primary(): BufferShadow | undefined {
    const p = this.channel.primary;
    return p !== undefined && p.alive ? p : undefined;
  }

  /** Bring the shadow to the shown primary (cheap when nothing changed since the last call). */
  public refresh(): void {
    const p = this.primary;
    if (p !== undefined) this.shadow.refresh(p);
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
