import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildViewer, VIEWER_HTML } from './build.ts';

test('buildViewer bundles the viewer in memory: one ES module, its CSS and the page', async () => {
  const b = await buildViewer({ sourcemap: false });
  assert.equal(b.html, VIEWER_HTML);
  assert.match(b.html, /<script type="module" src="viewer\.js">/);
  assert.match(b.html, /<link rel="stylesheet" href="viewer\.css">/);
  // Self-contained: no import statements left, the shaders and the entry code are inside.
  assert.doesNotMatch(b.js, /^import /m);
  assert.match(b.js, /usampler2D u_raw/);
  assert.match(b.js, /__vgpu/);
  assert.doesNotMatch(b.js, /sourceMappingURL/);
  assert.match(b.css, /\.vg-toolbar/);
  // The icon: an ICO header pointing at one 32×32 PNG.
  const ico = b['favicon.ico'];
  assert.deepEqual([...ico.subarray(0, 8)], [0, 0, 1, 0, 1, 0, 32, 32]);
  assert.deepEqual([...ico.subarray(22, 26)], [0x89, 0x50, 0x4e, 0x47]);
  assert.match(b.html, /<link rel="icon" href="favicon\.ico">/);
  const min = await buildViewer({ minify: true, sourcemap: false });
  assert.ok(min.js.length < b.js.length);
});
