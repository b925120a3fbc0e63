// Boot a gvt VM and a bochs VM; the host reads the console back from the exported plane (QUERY,
// GET, mmap, OCR against the guest's font). A bad mode prints an error in the guest and keeps the
// old mode; a good one reaches the host in the new format and tiling.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRM_FORMAT } from '../../src/kms/Fourcc.ts';
import { DRM_FORMAT_MOD } from '../../src/kms/Modifier.ts';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import { bootToPrompt, KINDS, newVm, PROMPT_TEXT, primary, screenHas, shown, stepUntil, type } from './Scenario.ts';

for (const kind of KINDS) {
  test(`${kind}: boots to a prompt the host reads off the dma-buf; bad modes keep the old one`, async (t) => {
    const host = new EmulatedHost();
    const g = newVm(host, kind);
    t.after(() => g.dispose());
    const screen = await bootToPrompt(g);
    assert.ok(screen.some((l) => l.includes(`display: ${kind}, EDID preferred 800x600@60`)), screen.join('\n'));
    assert.ok(screen.some((l) => l.includes('Started getty on tty1-tty6')), 'boot log on screen');
    const p0 = primary(g);
    assert.deepEqual([p0.width, p0.height, p0.drmFormat, p0.drmFormatMod],
      [800, 600, DRM_FORMAT.XRGB8888, DRM_FORMAT_MOD.LINEAR]);
    assert.equal(g.display.stats.gets, 1, 'one GET for the console buffer, then cache hits');

    await type(g, 'echo hello from the guest\n');
    await stepUntil(g, () => screenHas(g, 'hello from the guest'), 'echo output');

    // Invalid size, then a format the device cannot scan out: errors on screen, plane unchanged.
    await type(g, 'mode 10x10\n');
    await stepUntil(g, () => screenHas(g, 'mode: invalid size 10x10'), 'size error');
    const bad = kind === 'gvt' ? 'C8' : 'RGB565';
    await type(g, `mode 640x480@${bad}\n`);
    await stepUntil(g, () => screenHas(g, `mode: format ${bad} not supported`), 'format error');
    await g.step(2);
    assert.deepEqual(primary(g), p0, 'the old mode and buffer stay');
    assert.equal(g.screenText().filter((l) => l).at(-1), PROMPT_TEXT);

    // A good mode: the host sees the new geometry (and, on gvt, format and tiling) and reads it.
    const good = kind === 'gvt' ? 'mode 640x480@XRGB2101010+xtiled' : 'mode 640x480';
    await type(g, `${good}\n`);
    await stepUntil(g, () => shown(g)?.width === 640 && screenHas(g, 'mode: 640x480'), 'new mode on the host');
    const p1 = primary(g);
    if (kind === 'gvt') {
      assert.deepEqual([p1.drmFormat, p1.drmFormatMod, p1.stride],
        [DRM_FORMAT.XRGB2101010, DRM_FORMAT_MOD.I915_X_TILED, 2560]);
    } else {
      assert.deepEqual([p1.drmFormat, p1.stride, p1.height], [DRM_FORMAT.XRGB8888, 2560, 480]);
    }
    assert.notEqual(p1.dmabufId, p0.dmabufId);
    assert.equal(host.kernel.oopses, 0);
  });
}
