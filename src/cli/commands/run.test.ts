import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Msg } from '../../protocol/RemoteProtocol.ts';
import { selfSignedCert } from '../../testkit/node/SelfSignedCert.ts';
import { TestClient } from '../../testkit/node/TestClient.ts';
import { VNC_PASSWORD_ENV, vncSecurity } from './run.ts';

const BIN = fileURLToPath(new URL('../../../bin/vgpu-display.mjs', import.meta.url));

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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

const TOKEN_DIR = mkdtempSync(join(tmpdir(), 'vgpu-run-'));
const TOKEN_FILE = join(TOKEN_DIR, 'token');
writeFileSync(TOKEN_FILE, 'f1le-t0ken-123\n', { mode: 0o600 });
after(() => rmSync(TOKEN_DIR, { recursive: true, force: true }));

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

  it('--vnc serves each VM over RFB 3.8 (checked by scripts/vnc-check.mjs) and /vnc/<vm> over WebSocket', async () => {
    const p = start(['--vms', 'bochs', '--port', '0', '--vnc', '0']);
    try {
      const m = await waitForOutput(p, /VNC bochs-1: 127\.0\.0\.1:(\d+)/);
      await waitForOutput(p, /open http/);
      const check = spawn(process.execPath, [fileURLToPath(new URL('../../../scripts/vnc-check.mjs', import.meta.url)), `127.0.0.1:${m[1]}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      check.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      check.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
      const code = await new Promise<number | null>((r) => check.on('exit', r));
      assert.equal(code, 0, out);
      assert.match(out, /FramebufferUpdate: \d+ rectangle/);
      p.child.kill('SIGINT');
      assert.equal(await p.exit, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
    const open = start(['--vms', 'bochs', '--port', '0', '--vnc', '0.0.0.0:5990']);
    assert.equal(await open.exit, 2);
    assert.match(open.out(), /needs a password/);
    assert.doesNotMatch(open.out(), /booting/);
  });

  it('VNC security: TLS gives VeNCrypt (X509Vnc with a password), off loopback TLS alone starts with a warning', () => {
    const { cert, key } = selfSignedCert(TOKEN_DIR, 'vnc');
    const tls = { cert, key };
    const kinds = (r: ReturnType<typeof vncSecurity>): string => (typeof r === 'string' ? r
      : `${r.security.type}${r.security.type !== 'none' && r.security.password !== undefined ? '+password' : ''}${r.warnings.length > 0 ? ' warned' : ''}`);
    const pw = { [VNC_PASSWORD_ENV]: 'pw' };
    assert.equal(kinds(vncSecurity('127.0.0.1', undefined, {}, undefined)), 'none');
    assert.equal(kinds(vncSecurity('127.0.0.1', undefined, {}, tls)), 'vencrypt');
    assert.equal(kinds(vncSecurity('0.0.0.0', undefined, {}, tls)), 'vencrypt warned');
    assert.equal(kinds(vncSecurity('0.0.0.0', undefined, pw, tls)), 'vencrypt+password');
    assert.equal(kinds(vncSecurity('0.0.0.0', undefined, pw, undefined)), 'vnc+password');
    assert.match(kinds(vncSecurity('::', undefined, {}, undefined)), /needs a password .* or TLS/);
    assert.match(kinds(vncSecurity('0.0.0.0', undefined, {}, { cert, key: Buffer.from('junk') })), /--tls-cert\/--tls-key:/);
    const w = vncSecurity('0.0.0.0', undefined, {}, tls);
    assert.ok(typeof w !== 'string');
    assert.match(w.warnings[0]!, /encrypted, but anyone who reaches the port sees and controls the VMs/);
  });

  it('--vnc with --tls-cert/--tls-key offers VeNCrypt (type 19) only on the VNC port', async () => {
    const { certFile, keyFile } = selfSignedCert(TOKEN_DIR, 'run');
    const p = start(['--vms', 'bochs', '--port', '0', '--vnc', '0', '--tls-cert', certFile, '--tls-key', keyFile]);
    try {
      const m = await waitForOutput(p, /VNC bochs-1: 127\.0\.0\.1:(\d+) VeNCrypt X509None/);
      const s = connect({ host: '127.0.0.1', port: Number(m[1]) });
      let got = Buffer.alloc(0);
      const types = await new Promise<number[]>((resolve, reject) => {
        s.on('error', reject);
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length === 12) s.write('RFB 003.008\n');
          if (got.length >= 14) resolve([...got.subarray(12, 14)]);
        });
      });
      s.destroy();
      assert.deepEqual(types, [1, 19]);
      p.child.kill('SIGINT');
      assert.equal(await p.exit, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('refuses bad flags with exit code 2 and a message, before booting anything', async () => {
    for (const [args, re] of [
      [['--refresh', 'sometimes'], /--refresh/],
      [['--port', '70000'], /--port/],
      [['--listen', '0.0.0.0', '--port', '0'], /token/i],
      [['--vms', 'region', '--port', '0'], /not a gvt or bochs/],
      [['--listen', '0.0.0.0', '--token-file', TOKEN_FILE, '--port', '0'], /--tls-cert and --tls-key, or --insecure/],
      [['--listen', '0.0.0.0', '--tls-cert', TOKEN_FILE, '--port', '0'], /go together/],
      [['--token-file', '/nonexistent/token', '--port', '0'], /--token-file: ENOENT/],
      [['--max-queued', '0', '--port', '0'], /--max-queued/],
    ] as const) {
      const p = start([...args]);
      assert.equal(await p.exit, 2, p.out());
      assert.match(p.out(), re);
      assert.doesNotMatch(p.out(), /booting/);
    }
  });

  it('takes the token from a file or the environment and never prints it unless asked', async () => {
    for (const [args, env, secret] of [
      [['--token-file', TOKEN_FILE], {}, 'f1le-t0ken-123'],
      [[], { VGPU_DISPLAY_TOKEN: 'env-t0ken-456' }, 'env-t0ken-456'],
    ] as const) {
      const p = start(['--vms', 'bochs', '--port', '0', ...args], env);
      try {
        const m = await waitForOutput(p, /open (http:\/\/127\.0\.0\.1:(\d+)\/)\s/);
        const port = Number(m[2]);
        const refused = TestClient.connect(`ws://127.0.0.1:${port}/ws`);
        const status = await new Promise<number>((resolve) => refused.ws.on('unexpected-response', (_q, r) => resolve(r.statusCode ?? 0)));
        assert.equal(status, 401);
        const client = await TestClient.open(`ws://127.0.0.1:${port}/ws?token=${secret}`);
        await client.next((x) => x.type === Msg.HELLO, 'HELLO', 0);
        client.close();
        await waitForOutput(p, /bochs-1: ready/);
        assert.ok(!p.out().includes(secret), `the token is not printed:\n${p.out()}`);
        p.child.kill('SIGINT');
        assert.equal(await p.exit, 0);
      } finally {
        p.child.kill('SIGKILL');
      }
    }
    const printed = start(['--vms', '', '--device', 'emulated:bochs', '--port', '0', '--print-url', '--token', 'cl1-t0ken'], {});
    try {
      await waitForOutput(printed, /open http:\/\/127\.0\.0\.1:\d+\/\?token=cl1-t0ken/);
      assert.match(printed.out(), /--token puts the token where every local user can read it/);
      assert.equal(printed.out().split('cl1-t0ken').length - 1, 1, 'printed once');
      printed.child.kill('SIGINT');
      assert.equal(await printed.exit, 0);
    } finally {
      printed.child.kill('SIGKILL');
    }
  });
});
