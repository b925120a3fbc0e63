import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { FONT_HEIGHT, FONT_WIDTH } from '../../guest/os/Font8x16.ts';
import { ocrGrid } from '../../guest/os/TextOcr.ts';
import { decodePng, type RgbaImage } from '../../render/Png.ts';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureDevice, register, takeSnapshot } from './snapshot.ts';

/** The console text of a rendered frame. */
function pngText(img: RgbaImage): string[] {
  const px = (x: number, y: number): number => {
    const i = (y * img.width + x) * 4;
    return (img.rgba[i]! << 16) | (img.rgba[i + 1]! << 8) | img.rgba[i + 2]!;
  };
  return ocrGrid(px, Math.floor(img.width / FONT_WIDTH), Math.floor(img.height / FONT_HEIGHT));
}

function rgbAt(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return [img.rgba[i]!, img.rgba[i + 1]!, img.rgba[i + 2]!, img.rgba[i + 3]!];
}

describe('vgpu-display snapshot', () => {
  it('bochs fbcon-tty2: a PNG at guest resolution whose text is tty2 and its prompt', async () => {
    const s = await takeSnapshot({ device: 'emulated:bochs', scenario: 'fbcon-tty2', monitor: { width: 640, height: 480 } });
    const img = decodePng(s.png);
    assert.deepEqual([img.width, img.height, s.width, s.height], [640, 480, 640, 480]);
    const text = pngText(img).filter((l) => l);
    assert.deepEqual(text, ['vgpu-os 1.0 tty2', 'root@vgpu:~#']);
    assert.equal(s.cursor, null, 'bochs has no cursor plane');
    assert.equal(s.primary.format, 'XRGB8888');
    assert.equal(s.primary.dmabufId, s.run.fbconId, 'tty2 shares the fbcon buffer');
  });

  it('gvt desktop: the session with the cursor plane composed at its position', async () => {
    const s = await takeSnapshot({ device: 'emulated:gvt', scenario: 'desktop', monitor: { width: 640, height: 480 } });
    const img = decodePng(s.png);
    assert.deepEqual([img.width, img.height], [640, 480]);
    assert.ok(s.cursor, 'a cursor plane');
    assert.deepEqual([s.cursor.format, s.cursor.width, s.cursor.xHot, s.cursor.yHot], ['ARGB8888', 64, 0, 0]);
    assert.notEqual(s.primary.dmabufId, s.run.fbconId, 'the session buffer, not the console');
    // The arrow's tip is the cursor plane's top-left pixel: opaque and not the desktop colour.
    const tip = rgbAt(img, s.cursor.xPos + 1, s.cursor.yPos + 2);
    const beside = rgbAt(img, s.cursor.xPos + 40, s.cursor.yPos + 2);
    assert.notDeepEqual(tip, beside, `cursor drawn at (${s.cursor.xPos}, ${s.cursor.yPos})`);
    const [r, g, b] = rgbAt(img, 5, 470);
    assert.ok(b! > r! && b! > 0, `the desktop gradient, not the black console: ${[r, g, b]}`);
  });

  it('gvt software: content changed while the host watched, with no flip and no write', async () => {
    const s = await takeSnapshot({ device: 'emulated:gvt', scenario: 'software', monitor: { width: 640, height: 480 } });
    assert.ok((s.run.framesWatched ?? 0) >= 20, `frames ${s.run.framesWatched}`);
    assert.equal(s.run.flipsWatched, 0);
    assert.equal(s.run.writesWatched, 0);
  });

  it('the command writes the PNG and --json prints the plane info; bad input is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapshot-'));
    const out: string[] = [];
    const write = process.stdout.write;
    // Only our JSON: the test runner shares stdout with its own (binary) protocol.
    process.stdout.write = ((c: string | Uint8Array, ...rest: unknown[]): boolean => {
      if (typeof c === 'string' && c.startsWith('{')) out.push(c);
      else return (write as (...a: unknown[]) => boolean).call(process.stdout, c, ...rest);
      return true;
    }) as typeof write;
    try {
      const program = new Command().exitOverride();
      register(program);
      const file = join(dir, 'boot.png');
      await program.parseAsync(['node', 'x', 'snapshot', '--device', 'emulated:bochs', '--scenario', 'boot',
        '--out', file, '--mode', '640x480', '--json']);
      const j = JSON.parse(out.join('')) as { width: number; scenario: string; primary: { format: string; id: number } };
      assert.equal(j.width, 640);
      assert.equal(j.scenario, 'boot');
      assert.equal(j.primary.format, 'XRGB8888');
      const img = decodePng(readFileSync(file));
      assert.ok(pngText(img).some((l) => l.startsWith('root@vgpu:~#')), 'the prompt is in the file');
    } finally {
      process.stdout.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(takeSnapshot({ device: 'emulated:region', scenario: 'boot' }), /no guest driver for a region vGPU/);
    await assert.rejects(takeSnapshot({ device: '/dev/vfio/1', scenario: 'boot' }), /needs emulated:gvt or emulated:bochs/);
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    register(program);
    await assert.rejects(program.parseAsync(['node', 'x', 'snapshot', '--device', 'emulated:gvt', '--scenario', 'nope', '--out', 'x.png']),
      /expected one of boot, desktop, fbcon-tty2, software/);
  });
});

describe('snapshot without a scenario: the device as it is', () => {
  it('captures the planes an emulated device shows (demo scanout) through QUERY/GET/mmap', async () => {
    const c = await captureDevice('emulated:gvt', { demo: true });
    const img = decodePng(c.png);
    assert.equal(img.width, c.primary.width, 'PNG at guest resolution');
    assert.equal(img.height, c.primary.height);
    assert.equal(c.real, false);
    assert.ok((c.primary.dmabufId ?? 0) > 0, 'a dma-buf id');
  });

  it('refuses a device that shows nothing, and a scenario on a non-emulated device, with a reason', async () => {
    await assert.rejects(captureDevice('emulated:bochs'), /primary plane is off/);
    const bin = fileURLToPath(new URL('../../../bin/vgpu-display.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'snapshot', '--device', '6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0009',
      '--scenario', 'boot', '--out', '/dev/null'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--scenario boots a guest/);
  });
});
