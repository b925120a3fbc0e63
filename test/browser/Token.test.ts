/**
 * Token hygiene in real Chromium against a LabServer that requires a token: the token leaves the
 * address bar after load and lives in this tab's sessionStorage, no cookie is set, so another
 * service on the same host (another port) never receives it; a reload still connects.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { LabServer } from '../../src/server/LabServer.ts';
import { VmRegistry } from '../../src/server/VmRegistry.ts';
import { doubleBuffered, gvtVm } from '../../src/testkit/node/LabRig.ts';
import { TOKEN_KEY } from '../../src/web/TokenStore.ts';
import { launchChromium } from '../../src/testkit/node/Chromium.ts';
import { ViewerPage } from './Harness.ts';

const TOKEN = 'br0wser-t0ken-7c1e';
let browser: Browser;
let lab: LabServer;
let other: Server;
const otherHeaders: Array<Record<string, string | string[] | undefined>> = [];

before(async () => {
  const vm = gvtVm('tok');
  const [a] = doubleBuffered(vm, 256, 64);
  vm.fill(a, 0x5a);
  vm.refresh();
  other = createServer((req, res) => {
    otherHeaders.push(req.headers);
    res.end('another service on this host');
  });
  [browser, lab] = await Promise.all([
    launchChromium(),
    LabServer.start({ vms: new VmRegistry([vm]), port: 0, token: TOKEN, statsIntervalMs: 0 }),
    new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve)),
  ]);
});

after(async () => {
  await browser?.close();
  await lab?.close();
  other?.close();
});

describe('token hygiene', () => {
  it('the token leaves the address bar, stays in sessionStorage, and no other port receives it', async () => {
    const v = await ViewerPage.open(browser, { url: lab.publicUrl }, { params: { vm: 'tok', token: TOKEN } });
    try {
      await v.waitFor('s.vm === "tok" && s.primaryId !== null && s.frameWidth > 0', 20_000);
      assert.ok(!v.page.url().includes(TOKEN), `address bar: ${v.page.url()}`);
      assert.match(v.page.url(), /vm=tok/);
      assert.equal(await v.page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), TOKEN);
      assert.deepEqual(await v.context.cookies(), [], 'no cookie at all');
      // A reload (no token in the URL now) connects with the stored one.
      await v.page.reload();
      await v.waitFor('s.vm === "tok" && s.primaryId !== null && s.frameWidth > 0', 20_000);
      // Another service on the same host name, another port: it gets no cookie and no token.
      const port = (other.address() as AddressInfo).port;
      await v.page.goto(`http://127.0.0.1:${port}/`);
      assert.ok(otherHeaders.length >= 1, 'the other service was visited');
      for (const h of otherHeaders) {
        assert.ok(!JSON.stringify(h).includes(TOKEN), JSON.stringify(h));
        assert.equal(h['cookie'], undefined);
      }
      assert.deepEqual(v.pageErrors, []);
    } finally {
      await v.close();
    }
  });

  it('a page opened with a wrong token is refused (401) and opens no WebSocket', async () => {
    const accepted = lab.stats.wsAccepted;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const res = await page.goto(`${lab.publicUrl}?vm=tok&token=wrong`);
      assert.equal(res?.status(), 401);
      assert.match(await page.content(), /wrong token/);
      assert.equal(lab.stats.wsAccepted, accepted);
      assert.deepEqual(await context.cookies(), []);
    } finally {
      await context.close();
    }
  });
});
