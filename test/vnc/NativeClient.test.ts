/**
 * A native VNC client nobody here wrote — libvncclient from Debian's libvncserver — against our
 * RFB server over TCP: the frame it captures equals the guest's buffer, with Raw and with ZRLE,
 * in clear and inside VeNCrypt X509 (libvncclient's GnuTLS checks our self-signed certificate).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSecureContext } from 'node:tls';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { RfbSecurity } from '../../src/rfb/RfbConnection.ts';
import { RfbServer } from '../../src/rfb/RfbServer.ts';
import { VmChannel } from '../../src/server/VmChannel.ts';
import { VmRegistry, type LabVm } from '../../src/server/VmRegistry.ts';
import { ensurePackages } from '../../src/testkit/node/DebianPackages.ts';
import { doubleBuffered, gvtVm, type TestVm } from '../../src/testkit/node/LabRig.ts';
import { selfSignedCert, type SelfSignedCert } from '../../src/testkit/node/SelfSignedCert.ts';
import type { GuestBuffer } from '../../src/testkit/GvtGuest.ts';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const W = 640;
const H = 480;

/** Build test/vnc/vnccapture.c once per source change into .cache/vnc. */
function buildCapture(): string {
  ensurePackages(['libvncserver-dev', 'gcc', 'libc6-dev']);
  const src = join(root, 'test/vnc/vnccapture.c');
  const dir = join(root, '.cache/vnc');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `vnccapture-${Math.floor(statSync(src).mtimeMs)}`);
  try {
    statSync(bin);
    return bin;
  } catch { /* build it */ }
  const r = spawnSync('cc', ['-O2', '-o', bin, src, '-lvncclient'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `cc vnccapture.c: ${r.stderr}`);
  return bin;
}

/** Count the pixels of a vnccapture file that differ from the guest buffer (RGB). */
function differing(file: Buffer, vm: TestVm, shown: GuestBuffer): number {
  const nl = file.indexOf(10);
  const [w, h] = file.subarray(0, nl).toString().split(' ').map(Number);
  assert.deepEqual([w, h], [W, H]);
  const px = file.subarray(nl + 1);
  let bad = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const want = vm.guest.peek(shown, x, y);
      const i = (y * W + x) * 4;
      const got = (px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!;
      if (got !== (want & 0xffffff)) bad++;
    }
  }
  return bad;
}

describe('native VNC client (libvncclient)', () => {
  let bin = '';
  let vm: TestVm;
  let shown: GuestBuffer;
  let tmp = '';
  let cert: SelfSignedCert;
  let stranger: SelfSignedCert;
  const servers: RfbServer[] = [];

  async function serve(security: RfbSecurity): Promise<number> {
    const map = new Map<LabVm, VmChannel>();
    const server = new RfbServer({
      vms: new VmRegistry([vm]), port: 0, security,
      channels: {
        channelFor: (v) => map.get(v) ?? (map.set(v, new VmChannel(v)), map.get(v)!),
        channelUnused: (ch) => { if (ch.clientCount === 0) { map.delete(ch.vm); ch.dispose(); } },
      },
    });
    await server.listen();
    servers.push(server);
    return server.ports[0]!.port;
  }

  /** Run vnccapture to its exit; its stderr is libvncclient's log. */
  async function capture(port: number, encodings: string, out: string, ca?: string, password?: string): Promise<{ code: number; log: string }> {
    const env = { ...process.env, ...(password === undefined ? {} : { VNCCAPTURE_PASSWORD: password }) };
    try {
      const r = await run(bin, ['127.0.0.1', String(port), encodings, out, ...(ca === undefined ? [] : [ca])], { timeout: 120_000, env });
      return { code: 0, log: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, log: e.stderr ?? String(err) };
    }
  }

  before(() => {
    bin = buildCapture();
    tmp = mkdtempSync(join(tmpdir(), 'vnccapture-'));
    cert = selfSignedCert(tmp, 'server');
    stranger = selfSignedCert(tmp, 'stranger');
    vm = gvtVm('vm1', { ramMiB: 32 });
    [shown] = doubleBuffered(vm, W, H);
    // Bands, a gradient and solid boxes: palette, RLE and raw ZRLE tiles all appear.
    for (let y = 0; y < H; y++) vm.guest.fillRect(shown, 0, y, W, 1, 0xff000000 | (y & 255) << 16 | ((y * 5) & 255) << 8 | ((255 - y) & 255), false);
    for (let x = 0; x < W; x += 37) vm.guest.fillRect(shown, x, 100, 20, 200, 0xff000000 | (x * 97) & 0xffffff, false);
    vm.guest.fillRect(shown, 300, 300, 100, 100, 0xffffffff, false);
    vm.refresh();
  });
  after(async () => {
    for (const s of servers) await s.close();
    vm?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const encodings of ['raw', 'zrle raw']) {
    it(`captures the guest's buffer pixel for pixel with "${encodings}"`, async () => {
      const port = await serve({ type: 'none' });
      const out = join(tmp, `${encodings.replace(' ', '-')}.rgbx`);
      const r = await capture(port, encodings, out);
      assert.equal(r.code, 0, r.log);
      assert.equal(differing(readFileSync(out), vm, shown), 0);
    });
  }

  it('VeNCrypt X509None: libvncclient verifies our certificate with GnuTLS and captures the guest\'s buffer over TLS', async () => {
    const port = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) });
    const out = join(tmp, 'x509none.rgbx');
    const r = await capture(port, 'zrle raw', out, cert.certFile);
    assert.equal(r.code, 0, r.log);
    // libvncclient's own log says which path it took.
    assert.match(r.log, /Selecting security type 260/);
    assert.match(r.log, /TLS handshake done/);
    assert.equal(differing(readFileSync(out), vm, shown), 0);
  });

  it('VeNCrypt X509Vnc: the password is asked inside TLS; right captures the buffer, wrong is refused', async () => {
    const port = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }), password: new TextEncoder().encode('t1ger') });
    const out = join(tmp, 'x509vnc.rgbx');
    const ok = await capture(port, 'raw', out, cert.certFile, 't1ger');
    assert.equal(ok.code, 0, ok.log);
    assert.match(ok.log, /Selecting security type 261/);
    assert.equal(differing(readFileSync(out), vm, shown), 0);
    const wrong = await capture(port, 'raw', join(tmp, 'wrong.rgbx'), cert.certFile, 'guess');
    assert.equal(wrong.code, 3, wrong.log);
    assert.match(wrong.log, /authentication failed/i);
  });

  it('VeNCrypt X509: a client that trusts another CA refuses our server', async () => {
    const port = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) });
    const r = await capture(port, 'raw', join(tmp, 'stranger.rgbx'), stranger.certFile);
    assert.equal(r.code, 3, r.log);
    assert.match(r.log, /The certificate is not trusted/);
    assert.doesNotMatch(r.log, /TLS handshake done/);
  });
});
