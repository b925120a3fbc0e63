/**
 * The shared pixel suite (xterm.js habit): every format × linear/X/Y tiling, the cursor plane at
 * a negative position and with a hotspot, run against the WebGL2 renderer AND the Canvas2D
 * fallback. The GPU output must equal the CPU reference (src/render/SoftwareRenderer) byte for
 * byte, and the corner sentinels must have their colours.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { encodeCursorMove, encodeId, Msg } from '../../src/protocol/RemoteProtocol.ts';
import { DRM_FORMAT } from '../../src/kms/Fourcc.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';
import {
  bufferMessages, cursorPlane, encodeCursorDefine, FORMAT_CASES, noisePlane, reference, SENTINELS,
  showMessages, solidPlane,
} from './Frames.ts';
import { FakeServer, firstDifference, pixelAt, ViewerPage } from './Harness.ts';

const W = 600;
const H = 40;

let browser: Browser;
const server = new FakeServer();

before(async () => {
  browser = await launchChromium();
  await server.start();
});

after(async () => {
  await server.stop();
  await browser?.close();
});

it('headless Chromium gives a WebGL2 context (SwiftShader)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url);
  const info = await page.evaluate(() => {
    const gl = document.createElement('canvas').getContext('webgl2');
    return gl === null ? null : { version: gl.getParameter(gl.VERSION) as string };
  });
  await context.close();
  assert.notEqual(info, null, 'getContext("webgl2") returned null: check --enable-unsafe-swiftshader');
  assert.match(info!.version, /WebGL 2/);
});

for (const renderer of ['webgl', 'canvas'] as const) {
  describe(`pixel suite, renderer=${renderer}`, () => {
    let v: ViewerPage;
    let shown = 1;

    before(async () => {
      server.onAttach = (c) => c.sendAll(showMessages(solidPlane(1, 64, 64, [10, 20, 30])));
      v = await ViewerPage.open(browser, server, { params: { renderer, scale: 'off' } });
      await v.waitFor('s.primaryId === 1');
      assert.equal((await v.state()).renderer, renderer);
    });

    after(async () => {
      assert.deepEqual(v.pageErrors, []);
      await v.close();
    });

    let id = 10;
    for (const c of FORMAT_CASES) {
      const myId = ++id;
      it(c.name, async () => {
        const p = noisePlane(myId, c.fourcc, c.modifier, W, H);
        server.client().sendAll([...showMessages(p, myId), encodeId(Msg.BUFFER_RELEASE, shown)]);
        shown = myId;
        await v.waitFor(`s.primaryId === ${myId} && !s.buffers.includes(${myId - 1})`);
        const snap = await v.snapshot();
        assert.equal(snap.width, W);
        assert.equal(snap.height, H);
        // Sentinels: the reference itself must show them (C8 is a grey ramp: no colours).
        if (c.fourcc !== DRM_FORMAT.C8) {
          const tol = c.name.startsWith('Y') || c.name.startsWith('U') || c.name.startsWith('V') ? 3 : 0;
          const at = { tl: [0, 0], tr: [W - 1, 0], bl: [0, H - 1], br: [W - 1, H - 1] } as const;
          for (const s of SENTINELS) {
            const [x, y] = at[s.at];
            const got = pixelAt(snap, x, y);
            for (let k = 0; k < 3; k++) {
              assert.ok(Math.abs(got[k]! - s.rgb[k]!) <= tol, `${s.at} (${x},${y}) is ${got}, want ${s.rgb}`);
            }
            assert.equal(got[3], 255);
          }
        }
        assert.equal(firstDifference(snap.rgba, p.expected, W), undefined);
        // And through the present pass: scale=off at DPR 1 puts guest pixels on canvas pixels.
        for (const [x, y] of [[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1], [301, 17]] as const) {
          assert.deepEqual(await v.screenPixel(x, y), pixelAt({ width: W, rgba: p.expected }, x, y),
            `screen pixel (${x},${y})`);
        }
      });
    }

    it('cursor plane: negative position clips at the frame edge, hotspot is informational', async () => {
      const primary = solidPlane(100, 200, 100, [100, 100, 100]);
      const cur = cursorPlane(101);
      server.client().sendAll([...showMessages(primary, 100), encodeId(Msg.BUFFER_RELEASE, shown),
        ...bufferMessages(cur), encodeCursorDefine(101, 3, 4), encodeCursorMove(-4, -3)]);
      shown = 100;
      await v.waitFor('s.primaryId === 100 && s.cursor !== null && s.cursor.x === -4');
      let snap = await v.snapshot();
      const grey = [100, 100, 100, 255];
      const yellow = [255, 255, 0, 255];
      const cyan = [0, 255, 255, 255];
      assert.deepEqual(pixelAt(snap, 0, 0), yellow, 'cursor pixel (4,3) lands on (0,0)');
      assert.deepEqual(pixelAt(snap, 3, 12), yellow, 'cursor pixel (7,15) lands on (3,12)');
      assert.deepEqual(pixelAt(snap, 4, 0), grey, 'transparent half shows the primary');
      assert.deepEqual(pixelAt(snap, 0, 13), grey, 'below the cursor');
      assert.equal(firstDifference(snap.rgba, reference(primary, { s: cur, x: -4, y: -3 }), 200), undefined);

      server.client().send(encodeCursorMove(50, 20));
      await v.waitFor('s.cursor.x === 50 && s.cursor.y === 20');
      snap = await v.snapshot();
      // The plane's top-left is (x, y); the hotspot (3, 4) is not subtracted (VFIO ABI).
      assert.deepEqual(pixelAt(snap, 50, 20), cyan);
      assert.deepEqual(pixelAt(snap, 49, 20), grey);
      assert.deepEqual(pixelAt(snap, 57, 20), yellow);
      assert.deepEqual(pixelAt(snap, 58, 20), grey);
      assert.deepEqual(pixelAt(snap, 50, 36), grey);
      // Half-transparent blue over grey: round(255·128/255 + 100·127/255) = 178, grey part 50.
      const half = pixelAt(snap, 51, 20);
      for (const [k, want] of [[0, 50], [1, 50], [2, 178]] as const) {
        assert.ok(Math.abs(half[k]! - want) <= 2, `blend channel ${k} = ${half[k]}, want ${want}±2`);
      }
      assert.deepEqual(await v.screenPixel(50, 20), cyan, 'cursor layer on screen');
      assert.deepEqual(await v.screenPixel(0, 0), grey, 'old cursor position repaired');
      const st = await v.state();
      assert.deepEqual([st.cursor?.hotX, st.cursor?.hotY], [3, 4]);
      await v.page.click('#vg-inspector-toggle');
      await v.page.waitForFunction(() => document.querySelector('.vg-plane')?.textContent?.includes('hotspot 3, 4'));
    });
  });
}
