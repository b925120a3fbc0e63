import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Msg } from '../../protocol/RemoteProtocol.ts';
import { TestClient } from '../../testkit/node/TestClient.ts';

const BIN = fileURLToPath(new URL('../../../bin/vgpu-display.mjs', import.meta.url));

function start(args: string[]): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

async function waitForOutput(p: { out: () => string; exit: Promise<number | null> }, re: RegExp, ms = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(p.out());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output:\n${p.out()}`);
    const done = await Promise.race([p.exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
    if (done && !re.exec(p.out())) throw new Error(`run exited before ${re}; output:\n${p.out()}`);
  }
}

describe('vgpu-display run', () => {
  it('boots the VMs, serves the viewer, mirrors a display and stops cleanly on SIGINT', async () => {
    const p = start(['--vms', 'bochs', '--port', '0']);
    try {
      const m = await waitForOutput(p, /open (http:\/\/127\.0\.0\.1:(\d+)\/\S*)/);
      const port = Number(m[2]);
      assert.match(p.out(), /bochs-1: mbochs-medium \(bochs\)/);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /viewer\.js/);
      const client = await TestClient.open(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` });
      const hello = await client.next((x) => x.type === Msg.HELLO, 'HELLO', 0);
      assert.match(JSON.stringify(hello), /bochs-1/);
      client.attach('bochs-1');
      await client.next((x) => x.type === Msg.SCANOUT, 'SCANOUT', 0, 30_000);
      assert.ok(client.scanout !== undefined && client.buffers.has(client.scanout), 'the shown buffer was mirrored first');
      client.close();
      p.child.kill('SIGINT');
      assert.equal(await p.exit, 0);
      assert.match(p.out(), /stopped/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('--device shows a device view-only beside (or instead of) the VMs', async () => {
    const p = start(['--vms', '', '--device', 'emulated:bochs', '--port', '0']);
    try {
      const m = await waitForOutput(p, /open (http:\/\/127\.0\.0\.1:(\d+)\/\S*)/);
      assert.match(p.out(), /device-1: emulated:bochs \(emulated\), display client dmabuf/);
      const port = Number(m[2]);
      const client = await TestClient.open(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` });
      const hello = await client.next((x) => x.type === Msg.HELLO, 'HELLO', 0);
      assert.match(JSON.stringify(hello), /device-1/);
      client.close();
      p.child.kill('SIGINT');
      assert.equal(await p.exit, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
    const missing = start(['--device', '6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0009', '--port', '0']);
    assert.equal(await missing.exit, 1);
    assert.match(missing.out(), /ENOENT.*no mediated device/);
  });

  it('refuses bad flags with exit code 2 and a message, before booting anything', async () => {
    for (const [args, re] of [
      [['--refresh', 'sometimes'], /--refresh/],
      [['--port', '70000'], /--port/],
      [['--listen', '0.0.0.0', '--port', '0'], /token/i],
      [['--vms', 'region', '--port', '0'], /not a gvt or bochs/],
    ] as const) {
      const p = start([...args]);
      assert.equal(await p.exit, 2, p.out());
      assert.match(p.out(), re);
      assert.doesNotMatch(p.out(), /booting/);
    }
  });
});
