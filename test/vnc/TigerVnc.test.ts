/**
 * TigerVNC's viewer (Debian's tigervnc-viewer, its own GnuTLS code) under Xvfb against our server
 * over VeNCrypt X509None: it verifies our self-signed certificate, then receives whole frames
 * inside TLS. Interop only (the viewer draws to X; libvncclient's test checks the pixels). A
 * certificate TigerVNC cannot verify makes it ask its user in a dialog, so the wrong-CA case is
 * tested with libvncclient (NativeClient.test.ts), which refuses on its own.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import { RfbServer } from '../../src/rfb/RfbServer.ts';
import { VmChannel } from '../../src/server/VmChannel.ts';
import { VmRegistry, type LabVm } from '../../src/server/VmRegistry.ts';
import { ensurePackages } from '../../src/testkit/node/DebianPackages.ts';
import { doubleBuffered, gvtVm, type TestVm } from '../../src/testkit/node/LabRig.ts';
import { selfSignedCert, type SelfSignedCert } from '../../src/testkit/node/SelfSignedCert.ts';

const W = 320;
const H = 240;

async function until(cond: () => boolean, what: string, gone?: () => string | undefined): Promise<void> {
  for (let i = 0; i < 6000 && !cond(); i++) {
    const dead = gone?.();
    if (dead !== undefined) assert.fail(`${what}: ${dead}`);
    await new Promise((r) => setTimeout(r, i < 100 ? 1 : 10));
  }
  assert.ok(cond(), what);
}

/** Xvfb on a display it picks itself (-displayfd): no clash with anyone else's. */
async function startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '800x600x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(`:${out.trim()}`);
    });
    proc.once('exit', (code) => reject(new Error(`Xvfb exited ${code}: ${err}`)));
  });
  return { display, proc };
}

describe('TigerVNC viewer over VeNCrypt X509', () => {
  let tmp = '';
  let cert: SelfSignedCert;
  let vm: TestVm;
  let server: RfbServer;
  let xvfb: ChildProcess | undefined;
  let display = '';
  const logs: string[] = [];
  const viewers: ChildProcess[] = [];

  function viewer(ca: string): { proc: ChildProcess; out: () => string; exited: () => string | undefined } {
    let out = '';
    let exited: string | undefined;
    const proc = spawn('vncviewer', ['-SecurityTypes', 'X509None', '-X509CA', ca, '-Shared', `127.0.0.1::${server.ports[0]!.port}`], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISPLAY: display, HOME: tmp },
    });
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    proc.on('exit', (code, sig) => { exited = `vncviewer exited (${code ?? sig}): ${out}`; });
    viewers.push(proc);
    return { proc, out: () => out, exited: () => exited };
  }

  before(async () => {
    ensurePackages(['tigervnc-viewer', 'xvfb']);
    tmp = mkdtempSync(join(tmpdir(), 'tigervnc-'));
    cert = selfSignedCert(tmp, 'server');
    vm = gvtVm('vm1');
    const [shown] = doubleBuffered(vm, W, H);
    vm.guest.fillRect(shown, 0, 0, W, H, 0xff204060, false);
    vm.guest.fillRect(shown, 40, 40, 100, 80, 0xffffffff, false);
    vm.refresh();
    const map = new Map<LabVm, VmChannel>();
    server = new RfbServer({
      vms: new VmRegistry([vm]), port: 0, log: (l) => logs.push(l),
      security: { type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) },
      channels: {
        channelFor: (v) => map.get(v) ?? (map.set(v, new VmChannel(v)), map.get(v)!),
        channelUnused: (ch) => { if (ch.clientCount === 0) { map.delete(ch.vm); ch.dispose(); } },
      },
    });
    await server.listen();
    const x = await startXvfb();
    xvfb = x.proc;
    display = x.display;
  });
  after(async () => {
    for (const v of viewers) v.kill('SIGKILL');
    await server?.close();
    xvfb?.kill('SIGTERM');
    vm?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('trusts our certificate, passes X509None and receives the whole screen inside TLS', async () => {
    const v = viewer(cert.certFile);
    await until(() => server.clients().some((c) => c.stats.pixels >= W * H), 'TigerVNC got a full frame', v.exited);
    v.proc.kill('SIGTERM');
    await until(() => server.clientCount === 0, 'the viewer is gone');
  });

});
