import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { formatProbe, probeDevice, register } from './probe.ts';

async function capture(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return out.join('');
}

describe('vgpu-display probe', () => {
  it('gvt demo: primary and cursor planes, two cached dma-bufs, nothing copied', async () => {
    const r = await probeDevice('emulated:gvt', { demo: true });
    assert.equal(r.mode, 'dmabuf');
    assert.equal(r.real, false);
    assert.ok(r.primary?.enabled);
    assert.deepEqual([r.primary.format, r.primary.modifierName, r.primary.width, r.primary.height], ['XRGB8888', 'LINEAR', 1024, 768]);
    assert.ok(r.cursor?.enabled);
    assert.deepEqual([r.cursor.format, r.cursor.xPos, r.cursor.yPos, r.cursor.xHot, r.cursor.yHot], ['ARGB8888', 100, 50, 1, 1]);
    assert.deepEqual(r.cache.map((e) => e.shown).sort(), ['cursor', 'primary']);
    assert.equal(r.stats.gets, 2);
    assert.equal(r.stats.bytesCopied, 0);
    assert.equal(r.status.reason, 'ok');
    const text = formatProbe(r);
    assert.match(text, /primary XRGB8888 LINEAR 1024x768 stride 4096/);
    assert.match(text, /cursor {2}ARGB8888 LINEAR 64x64 .* at \(100, 50\) hotspot \(1, 1\)/);
    assert.match(text, /cache {3}2\/8 entries/);
  });

  it('a fresh device without a guest: plane disabled, reported, nothing cached', async () => {
    const r = await probeDevice('emulated:bochs');
    assert.equal(r.mode, 'dmabuf');
    assert.equal(r.primary?.enabled, false);
    assert.equal(r.status.reason, 'plane-disabled');
    assert.equal(r.cache.length, 0);
    assert.match(formatProbe(r), /primary disabled/);
  });

  it('region device: REGION mode, no cursor, the frame is copied', async () => {
    const r = await probeDevice('emulated:mdpy-vga');
    assert.equal(r.mode, 'region');
    assert.equal(r.cursor, null);
    assert.equal(r.primary?.regionIndex, 16);
    assert.equal(r.stats.bytesCopied, 640 * 4 * 480);
    assert.match(formatProbe(r), /region_index 16/);
  });

  it('--json through the command line; bad specs are errors', async () => {
    const program = new Command().exitOverride();
    register(program);
    const out = await capture(() => program.parseAsync(['node', 'vgpu-display', 'probe', '--device', 'emulated:gvt', '--demo', '--json']).then(() => {}));
    const j = JSON.parse(out) as { mode: string; primary: { drmFormatMod: string }; cache: unknown[] };
    assert.equal(j.mode, 'dmabuf');
    assert.equal(j.primary.drmFormatMod, '0x0000000000000000');
    assert.equal(j.cache.length, 2);
    await assert.rejects(probeDevice('emulated:nope'), /unknown mdev type/);
    await assert.rejects(probeDevice('/dev/null'), /expected emulated/);
  });
});
