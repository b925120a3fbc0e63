import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { selfSignedCert } from '../testkit/node/SelfSignedCert.ts';

// Every command's exit codes, from the outside: 2 for a usage error (bad flag value, unknown
// command or option, missing flag, bad combination) with nothing started and nothing on stdout;
// 1 for a runtime failure; 0 for success. A preloaded probe records every listening socket and
// worker thread the process starts, so "a bad flag binds no port, boots no guest" is observed.

const BIN = fileURLToPath(new URL('../../bin/vgpu-display.mjs', import.meta.url));
const PROBE = fileURLToPath(new URL('../testkit/node/StartProbe.mjs', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'vgpu-exit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A UUID no mdev has: opening it is a runtime failure (ENOENT), not a usage error. */
const ABSENT = '6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c00ff';
let runs = 0;

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What the process started: 'listen' and 'worker' lines. */
  readonly started: string[];
}

/** Run the CLI to its exit; `until` (optional) is output that ends a long-running command. */
function cli(args: readonly string[], until?: RegExp): Promise<CliRun> {
  const log = join(dir, `probe-${runs++}.log`);
  const child = spawn(process.execPath, ['--import', PROBE, BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, START_PROBE_LOG: log },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (until?.test(stdout)) child.kill('SIGINT');
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (code) => {
    const started = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    resolve({ code, stdout, stderr, started });
  }));
}

async function usageError(args: readonly string[], message: RegExp): Promise<void> {
  const r = await cli(args);
  const what = `vgpu-display ${args.join(' ')}`;
  assert.equal(r.code, 2, `${what}: exit 2\n${r.stderr}`);
  assert.match(r.stderr, message, `${what}: the message says why`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout (no URL, no report)`);
  assert.deepEqual(r.started, [], `${what}: no port bound, no worker started`);
}

describe('vgpu-display exit codes', () => {
  it('--version prints the package version; help exits 0; no command, an unknown command or option exit 2', async () => {
    const v = await cli(['--version']);
    assert.equal(v.code, 0);
    assert.equal(v.stdout, `${PKG.version}\n`);
    const h = await cli(['run', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--interval <ms>/);
    await Promise.all([
      usageError([], /Usage: vgpu-display/),
      usageError(['nope'], /unknown command 'nope'/),
      usageError(['conformance', '--device', 'emulated:gvt', '--bogus'], /unknown option '--bogus'/),
    ]);
  });

  it('the probe sees what a good run starts (the control for every "nothing started" below)', async () => {
    const r = await cli(['run', '--vms', 'bochs', '--port', '0'], /open http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(r.stdout, /open http:\/\/127\.0\.0\.1:\d+\//);
    assert.ok(r.started.includes('listen'), `the server listened: ${r.started.join(',')}`);
    assert.ok(r.started.includes('worker'), `the guest booted in a worker: ${r.started.join(',')}`);
    assert.equal(r.code, 0, r.stderr);
  });

  it('run: every bad flag exits 2 before a port is bound or a guest boots', async () => {
    // TLS material that cannot serve: not PEM at all, and a key that belongs to another certificate.
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    const a = selfSignedCert(dir, 'a');
    const b = selfSignedCert(dir, 'b');
    await Promise.all([
      usageError(['run', '--vnc', '5990', '--tls-cert', junk, '--tls-key', junk], /--tls-cert .*junk\.pem \/ --tls-key .*junk\.pem: .*(PEM|no start line)/i),
      usageError(['run', '--vnc', '5990', '--tls-cert', a.certFile, '--tls-key', b.keyFile], /--tls-cert .*a\.pem \/ --tls-key .*b-key\.pem: .*key values mismatch/),
      usageError(['run', '--vnc', '5990', '--tls-cert', a.certFile], /--tls-cert and --tls-key go together/),
      usageError(['run', '--interval', '0', '--port', '0'], /'--interval <ms>' argument '0' is invalid\. expected an integer in 1\.\.10000/),
      usageError(['run', '--port', '65536'], /'--port <port>' argument '65536' is invalid/),
      usageError(['run', '--vms', 'gvt,nope'], /'nope' is not a gvt or bochs VM kind/),
      usageError(['run', '--vms', ''], /there must be a VM \(--vms\) or a --device/),
      usageError(['run', '--refresh', 'sometimes'], /Allowed choices are timer, event, dirty/),
      usageError(['run', '--listen', 'example'], /'--listen <address>' argument 'example' is invalid/),
      usageError(['run', '--listen', '0.0.0.0'], /--listen 0\.0\.0\.0 is not loopback: give a token with --token-file/),
      usageError(['run', '--listen', '0.0.0.0', '--token-file', '/dev/null'], /--token-file: \/dev\/null must hold one token/),
      usageError(['run', '--vnc', '0.0.0.0:5990'], /--vnc on 0\.0\.0\.0 \(not loopback\) needs a password \(--vnc-password-file PATH or VGPU_DISPLAY_VNC_PASSWORD\) or TLS \(--tls-cert and --tls-key\)/),
      usageError(['run', '--vnc', 'nope'], /--vnc takes \[ADDR:\]PORT/),
      usageError(['run', '--token', ''], /'--token <token>' argument '' is invalid\. must not be empty/),
      usageError(['run', '--device', 'emulated:nope'], /unknown emulated type 'nope'/),
      usageError(['run', '--device', 'not-a-device'], /expected emulated:gvt\|bochs\|region/),
    ]);
  });

  it('conformance: --only that matches no check is a usage error; a device that cannot open exits 1', async () => {
    await Promise.all([
      usageError(['conformance', '--device', 'emulated:gvt', '--only', 'nope'], /'nope' matches no check/),
      usageError(['conformance', '--device', 'emulated:gvt', '--only', 'region.,nope'], /'nope' matches no check/),
      usageError(['conformance'], /required option '--device <spec>' not specified/),
      usageError(['conformance', '--device', 'emulated:nope'], /unknown emulated type 'nope'/),
    ]);
    const absent = await cli(['conformance', '--device', ABSENT]);
    assert.equal(absent.code, 1, absent.stderr);
    assert.match(absent.stderr, new RegExp(`no mediated device ${ABSENT}`));
  });

  it('probe: bad flags exit 2; an emulated device without a guest says so and points to --demo', async () => {
    await Promise.all([
      usageError(['probe', '--device', 'emulated:gvt', '--cache-size', '1'], /expected an integer in 2\.\.1024/),
      usageError(['probe', '--device', ABSENT, '--demo'], /--demo works with emulated devices only/),
    ]);
    const absent = await cli(['probe', '--device', ABSENT]);
    assert.equal(absent.code, 1, absent.stderr);
    const bare = await cli(['probe', '--device', 'emulated:bochs']);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /status {2}plane-disabled/);
    assert.match(bare.stderr, /an emulated vGPU has no guest.*try probe --demo/);
    const demo = await cli(['probe', '--device', 'emulated:bochs', '--demo']);
    assert.equal(demo.code, 0, demo.stderr);
    assert.equal(demo.stderr, '', 'no hint once something is scanned out');
  });

  it('snapshot: bad flags and combinations exit 2 before a guest boots; nothing to capture exits 1', async () => {
    const png = join(dir, 'x.png');
    await Promise.all([
      usageError(['snapshot', '--device', 'emulated:gvt', '--out', join(dir, 'missing', 'x.png')], /folder .*missing does not exist/),
      usageError(['snapshot', '--device', 'emulated:gvt', '--scenario', 'nope', '--out', png], /expected one of boot/),
      usageError(['snapshot', '--device', 'emulated:gvt', '--mode', '1024', '--scenario', 'boot', '--out', png], /expected WIDTHxHEIGHT/),
      usageError(['snapshot', '--device', 'emulated:gvt', '--mode', '800x600', '--out', png], /--mode goes with --scenario/),
      usageError(['snapshot', '--device', 'emulated:region', '--scenario', 'boot', '--out', png], /--scenario boots a guest/),
      usageError(['snapshot', '--device', 'emulated:gvt', '--scenario', 'boot', '--demo', '--out', png], /--demo goes without --scenario/),
      usageError(['snapshot', '--device', ABSENT, '--demo', '--out', png], /--demo works with emulated devices only/),
    ]);
    const off = await cli(['snapshot', '--device', 'emulated:bochs', '--out', png]);
    assert.equal(off.code, 1, off.stderr);
    assert.match(off.stderr, /primary plane is off.*try --demo/);
    assert.ok(!existsSync(png), 'no file written');
  });

  it('bench and fuzz: bad flags exit 2 before anything runs', async () => {
    await Promise.all([
      usageError(['bench', '--flips', '0'], /expected an integer in 1\.\.10000000/),
      usageError(['bench', '--only', 'storm,nope'], /expected one of storm/),
      usageError(['fuzz', '--seed', '-1'], /expected a u32/),
      usageError(['fuzz', '--cases', '1e3'], /expected an integer/),
      usageError(['fuzz', '--jobs', '0'], /expected an integer in 1\.\.64/),
      usageError(['fuzz', '--replay', '3'], /--replay needs --only abi\|guest/),
    ]);
  });
});
