/**
 * gtk-vnc (the VNC library of virt-viewer/remote-viewer and gvncviewer; Debian's gvnccapture)
 * against our server over VeNCrypt X509None: it finds its CA where it always looks —
 * ~/.pki/CA/cacert.pem of the passwd home — checks our certificate with its own GnuTLS code, and
 * the PNG it saves equals the guest's buffer. The home is swapped for a temporary one only inside
 * a private mount namespace (`unshare --mount`), so nothing outside the test sees it. Without our
 * CA it must refuse the server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { decode } from 'fast-png';
import { RfbServer } from '../../src/rfb/RfbServer.ts';
import { VmChannel } from '../../src/server/VmChannel.ts';
import { VmRegistry, type LabVm } from '../../src/server/VmRegistry.ts';
import { ensurePackages } from '../../src/testkit/node/DebianPackages.ts';
import { doubleBuffered, gvtVm, type TestVm } from '../../src/testkit/node/LabRig.ts';
import { selfSignedCert, type SelfSignedCert } from '../../src/testkit/node/SelfSignedCert.ts';
import type { GuestBuffer } from '../../src/testkit/GvtGuest.ts';

const run = promisify(execFile);
const W = 256;
const H = 160;

describe('gtk-vnc (gvnccapture) over VeNCrypt X509None', () => {
  let tmp = '';
  let cert: SelfSignedCert;
  let vm: TestVm;
  let shown: GuestBuffer;
  let server: RfbServer | undefined;
  let display = 0;

  /** gvnccapture with `home` bound over the passwd home in a mount namespace of its own. */
  async function capture(home: string, out: string, debug = false): Promise<{ code: number; log: string }> {
    const script = 'mount --bind "$1" "$2" && shift 2 && exec gvnccapture "$@"';
    const args = [...(debug ? ['--debug'] : []), `127.0.0.1:${display}`, out];
    try {
      const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', home, userInfo().homedir, ...args], { timeout: 120_000, maxBuffer: 64 << 20 });
      return { code: 0, log: r.stdout + r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, log: `${e.stdout ?? ''}${e.stderr ?? String(err)}` };
    }
  }

  before(async () => {
    ensurePackages(['gvncviewer', 'util-linux']);
    tmp = mkdtempSync(join(tmpdir(), 'gtkvnc-'));
    cert = selfSignedCert(tmp, 'server');
    mkdirSync(join(tmp, 'home/.pki/CA'), { recursive: true });
    writeFileSync(join(tmp, 'home/.pki/CA/cacert.pem'), cert.cert);
    mkdirSync(join(tmp, 'empty'));
    vm = gvtVm('vm1');
    [shown] = doubleBuffered(vm, W, H);
    for (let y = 0; y < H; y++) vm.guest.fillRect(shown, 0, y, W, 1, 0xff000000 | (y & 255) << 16 | ((y * 3) & 255) << 8 | ((255 - y) & 255), false);
    vm.guest.fillRect(shown, 50, 40, 60, 50, 0xffffffff, false);
    vm.refresh();
    // gvnccapture takes a display number only (port 5900 + N): a random free one.
    for (let attempt = 0; server === undefined; attempt++) {
      const n = 20_000 + Math.floor(Math.random() * 20_000);
      const map = new Map<LabVm, VmChannel>();
      const s = new RfbServer({
        vms: new VmRegistry([vm]), port: 5900 + n,
        security: { type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) },
        channels: {
          channelFor: (v) => map.get(v) ?? (map.set(v, new VmChannel(v)), map.get(v)!),
          channelUnused: (ch) => { if (ch.clientCount === 0) { map.delete(ch.vm); ch.dispose(); } },
        },
      });
      try {
        await s.listen();
        server = s;
        display = n;
      } catch (err) {
        await s.close();
        if (attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  });
  after(async () => {
    await server?.close();
    vm?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('verifies our certificate and saves a PNG equal to the guest\'s buffer', async () => {
    const out = join(tmp, 'shot.png');
    const r = await capture(join(tmp, 'home'), out);
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /Saved display to/);
    const png = decode(readFileSync(out));
    assert.deepEqual([png.width, png.height], [W, H]);
    const ch = png.channels;
    let bad = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * ch;
        const got = (png.data[i]! << 16) | (png.data[i + 1]! << 8) | png.data[i + 2]!;
        if (got !== (vm.guest.peek(shown, x, y) & 0xffffff)) bad++;
      }
    }
    assert.equal(bad, 0, `${bad} pixels differ`);
  });

  it('without our CA it refuses the server', async () => {
    const out = join(tmp, 'refused.png');
    const r = await capture(join(tmp, 'empty'), out, true);
    assert.equal(r.code, 1, r.log);
    assert.match(r.log, /Failed to find certificate CA\/cacert\.pem/);
    assert.match(r.log, /The certificate is not trusted/);
    assert.match(r.log, /Unable to connect/);
    assert.throws(() => readFileSync(out), /ENOENT/);
  });
});
