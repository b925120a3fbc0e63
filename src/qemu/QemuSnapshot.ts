import type { DisplayConsole } from '../display/DisplayConsole.ts';
import { encodePng } from '../render/Png.ts';
import { SoftwareRenderer } from '../render/SoftwareRenderer.ts';

export interface ConsolePicture {
  readonly width: number;
  readonly height: number;
  /** RGBA, 4 bytes per pixel, opaque. */
  readonly rgba: Uint8Array;
}

/** What a console shows now (primary + cursor), composed by the software renderer. */
export function renderConsole(console: DisplayConsole): ConsolePicture {
  const b = console.scanout;
  if (!b) throw new Error('the console shows nothing yet (no Scanout)');
  const r = new SoftwareRenderer({ opaquePrimary: true });
  const st = r.setPrimary({ source: b.mapping, drmFormat: b.drmFormat, modifier: b.modifier, width: b.width, height: b.height, stride: b.stride });
  if (st !== 'ok') throw new Error(`cannot render the QEMU surface: ${st}`);
  const c = console.cursor;
  if (c.buffer) {
    const p = console.cursorPosition;
    r.setCursor({ source: c.buffer.mapping, drmFormat: c.buffer.drmFormat, modifier: c.buffer.modifier, width: c.buffer.width, height: c.buffer.height, stride: c.buffer.stride, x: p.x, y: p.y, hotX: c.hotX, hotY: c.hotY });
  }
  const res = r.render();
  if (res.status !== 'ok') throw new Error(`render: ${res.status}`);
  return { width: r.width, height: r.height, rgba: new Uint8Array(r.framebuffer) };
}

export function consolePng(p: ConsolePicture): Uint8Array {
  return encodePng(p.rgba, p.width, p.height);
}
