import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The package as a user gets it: `npm pack` (its prepack builds dist/), the tarball installed into
// a scratch folder outside the repository (offline: the dependencies are linked from the repo's
// node_modules, so no registry is contacted and tsx/esbuild/typescript are not reachable from
// it), then every export imported, the README's examples run, the .d.ts type-checked by a
// TypeScript consumer, and the installed CLI run — including the lab with its prebuilt viewer.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; dependencies: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};
/** What `npm pack` shipped before the package had a build and a `files` list. */
const FILES_BEFORE = 369;

interface Run { code: number | null; stdout: string; stderr: string }

/** Run a command to its end. */
function run(cmd: string, args: readonly string[], cwd: string): Promise<Run> {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** npm itself: the one running `npm test`, else the one on PATH. */
function npm(args: readonly string[], cwd: string): Promise<Run> {
  const cli = process.env.npm_execpath;
  return cli && /\.c?js$/.test(cli) ? run(process.execPath, [cli, ...args], cwd) : run('npm', args, cwd);
}

/** The runtime dependencies and theirs, as folders of the repository's node_modules. */
function dependencyClosure(): Map<string, string> {
  const found = new Map<string, string>();
  const todo = Object.keys(PKG.dependencies);
  while (todo.length) {
    const name = todo.pop()!;
    if (found.has(name)) continue;
    const dir = join(ROOT, 'node_modules', name);
    found.set(name, dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    todo.push(...Object.keys(pkg.dependencies ?? {}));
  }
  return found;
}

/** README code blocks that start with `// example: NAME.mjs`. */
function readmeExamples(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return new Map([...readme.matchAll(/```js\n(\/\/ example: (\S+\.mjs)\n[\s\S]*?)```/g)].map((m) => [m[2]!, m[1]!]));
}

const scratch = mkdtempSync(join(tmpdir(), 'vgpu-package-'));
const installed = join(scratch, 'node_modules', PKG.name);
let files: string[] = [];

describe('the npm package', { timeout: 280_000 }, () => {
  before(async () => {
    const packed = await npm(['pack', '--json', '--pack-destination', scratch], ROOT);
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.stderr}`);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    files = info!.files.map((f) => f.path).sort();
    const deps = Object.fromEntries([...dependencyClosure()].map(([name, dir]) => [name, `file:${dir}`]));
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({
      name: 'scratch', private: true, type: 'module', dependencies: { [PKG.name]: `file:./${info!.filename}`, ...deps },
    }));
    const inst = await npm(['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], scratch);
    assert.equal(inst.code, 0, `npm install failed:\n${inst.stderr}`);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('ships compiled JavaScript with types and the viewer bundle; no sources, tests or bench output', (t) => {
    t.diagnostic(`npm pack: ${files.length} files (before the build and the files list: ${FILES_BEFORE})`);
    const odd = files.filter((f) => !/^(package\.json|README\.md|bin\/vgpu-display\.mjs|dist\/.+\.(js|d\.ts)|dist\/web\/(index\.html|viewer\.css))$/.test(f));
    assert.deepEqual(odd, [], 'only the bin, compiled modules, their types and the viewer');
    assert.deepEqual(files.filter((f) => /\.test\.|testkit\/(node|guest|web)\//.test(f)), [], 'no test files');
    for (const f of ['dist/cli/main.js', 'dist/guest/host/GuestWorker.js', 'dist/web/viewer.js', 'dist/web/index.html']) {
      assert.ok(files.includes(f), `${f} shipped`);
    }
    for (const [name, target] of Object.entries(PKG.exports)) {
      if (typeof target === 'string') continue;
      for (const f of [target.types, target.default]) assert.ok(files.includes(f.replace(/^\.\//, '')), `export ${name}: ${f} shipped`);
    }
    const js = files.filter((f) => f.endsWith('.js')).length;
    const dts = files.filter((f) => f.endsWith('.d.ts')).length;
    assert.ok(dts > 0 && dts < js, `types for the exports only (${dts} .d.ts beside ${js} .js)`);
    assert.ok(files.length < FILES_BEFORE, `${files.length} files`);
    assert.ok(!existsSync(join(scratch, 'node_modules', 'tsx')) && !existsSync(join(scratch, 'node_modules', 'esbuild')),
      'neither tsx nor esbuild is installed with the package');
  });

  it('imports every export from a scratch module', async () => {
    writeFileSync(join(scratch, 'imports.mjs'), `
import * as display from 'vgpu-display';
import * as displayAlias from 'vgpu-display/display';
import * as conformance from 'vgpu-display/conformance';
import * as linux from 'vgpu-display/linux';
import * as protocol from 'vgpu-display/protocol';
import * as emulated from 'vgpu-display/emulated';
import pkg from 'vgpu-display/package.json' with { type: 'json' };
console.log(JSON.stringify({
  VfioDisplay: typeof display.VfioDisplay, DisplayConsole: typeof display.DisplayConsole, alias: display.VfioDisplay === displayAlias.VfioDisplay,
  runConformance: typeof conformance.runConformance, checks: conformance.ALL_CHECKS.length > 0,
  openRealDevice: typeof linux.openRealDevice, LinuxSys: typeof linux.LinuxSys,
  decodeServerMessage: typeof protocol.decodeServerMessage, SCANOUT: protocol.Msg.SCANOUT,
  EmulatedHost: typeof emulated.EmulatedHost, version: pkg.version,
}));
`);
    const r = await run(process.execPath, ['imports.mjs'], scratch);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      VfioDisplay: 'function', DisplayConsole: 'function', alias: true, runConformance: 'function', checks: true,
      openRealDevice: 'function', LinuxSys: 'function', decodeServerMessage: 'function', SCANOUT: 0x13,
      EmulatedHost: 'function', version: PKG.version,
    });
  });

  it('runs every README example', async () => {
    const examples = readmeExamples();
    assert.deepEqual([...examples.keys()].sort(), ['conformance.mjs', 'display.mjs', 'protocol.mjs', 'real-device.mjs']);
    for (const [name, code] of examples) writeFileSync(join(scratch, name), code);
    const [display, conformance, real, protocol] = await Promise.all(
      ['display.mjs', 'conformance.mjs', 'real-device.mjs', 'protocol.mjs'].map((f) => run(process.execPath, [f], scratch)));
    assert.equal(display!.code, 0, display!.stderr);
    assert.match(display!.stdout, /^mode region\nresize 1024x768\nscanout region 1024x768 stride 4096\nstatus ok, queries \d+\n$/);
    assert.equal(conformance!.code, 0, conformance!.stderr);
    assert.match(conformance!.stdout, /^emulated:gvt \(gvt, emulated\): (\d+) checks, \1 ok, 0 failed/);
    // No mdev here: the opener's own error, and nothing left open.
    assert.equal(real!.code, 1, real!.stdout);
    assert.match(real!.stderr, /no mediated device 6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0001/);
    assert.equal(protocol!.code, 0, protocol!.stderr);
    assert.match(protocol!.stdout, /^SCANOUT 5 bytes \{ type: 19, id: 7 \}\n\{ type: 21, x: -5, y: 12 \}\nrejected: /);
  });

  it('type-checks a TypeScript consumer of every export against the shipped .d.ts', async () => {
    mkdirSync(join(scratch, 'ts'));
    writeFileSync(join(scratch, 'ts', 'consumer.ts'), `
import { RealClock, VfioDisplay, type DisplayBuffer, type DisplayStatus, type VfioDisplayOptions } from 'vgpu-display';
import { runConformance, type ConformanceReport } from 'vgpu-display/conformance';
import { openRealDevice, type RealOpenedDevice } from 'vgpu-display/linux';
import { Msg, decodeServerMessage, isProtocolError } from 'vgpu-display/protocol';
import { EmulatedHost } from 'vgpu-display/emulated';

const host = new EmulatedHost();
const fd: number = host.openDevice(host.createVgpu('bochs').uuid);
const options: VfioDisplayOptions = { clock: new RealClock(), policy: 'event', cacheSize: 4 };
const display = new VfioDisplay(host.kernel, fd, options);
display.console.onScanout((b: DisplayBuffer) => b.mapping);
const status: DisplayStatus = display.console.status;
const report: ConformanceReport = runConformance({ sys: host.kernel, fd, real: false });
const opened: Promise<RealOpenedDevice> = openRealDevice('/sys/bus/mdev/devices/x');
const m = decodeServerMessage(new Uint8Array([Msg.SCANOUT, 0, 0, 0, 0]));
if (!isProtocolError(m) && m.type === Msg.SCANOUT) console.log(m.id, status.reason, report.failed, opened);
// @ts-expect-error the types are real: an unknown policy is an error
new VfioDisplay(host.kernel, fd, { clock: new RealClock(), policy: 'sometimes' });
`);
    writeFileSync(join(scratch, 'ts', 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2023', lib: ['ES2023'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
        skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    }));
    const r = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(scratch, 'ts')], scratch);
    assert.equal(r.code, 0, `tsc:\n${r.stdout}${r.stderr}`);
  });

  it('the installed CLI runs the compiled code: --version, a command, and the lab with its prebuilt viewer', async () => {
    const bin = join(scratch, 'node_modules/.bin/vgpu-display');
    assert.ok(!existsSync(join(installed, 'src')), 'no sources in the package');
    const version = await run(bin, ['--version'], scratch);
    assert.equal(version.stdout, `${PKG.version}\n`, version.stderr);
    const conf = await run(bin, ['conformance', '--device', 'emulated:region', '--only', 'region.'], scratch);
    assert.equal(conf.code, 0, conf.stderr);
    assert.match(conf.stdout, /0 failed/);
    const lab = await labPage(bin);
    assert.equal(lab.code, 0, lab.stderr);
    assert.match(lab.stdout, /bochs-1: ready/);
    assert.match(lab.page, /<script type="module" src="viewer\.js">/);
    assert.ok(lab.viewer.length > 10_000, `viewer.js served (${lab.viewer.length} bytes)`);
  });
});

/** Start the installed lab, fetch its page and viewer bundle once it prints its URL, then stop it. */
function labPage(bin: string): Promise<Run & { page: string; viewer: string }> {
  const child = spawn(bin, ['run', '--vms', 'bochs', '--port', '0'], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let page = '';
  let viewer = '';
  let fetching = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
    if (!m || fetching) return;
    fetching = true;
    void Promise.all([fetch(m[1]!).then((r) => r.text()), fetch(`${m[1]}viewer.js`).then((r) => r.text())])
      .then(([p, v]) => { page = p; viewer = v; }, (err: unknown) => { stderr += `fetch: ${String(err)}\n`; })
      .finally(() => child.kill('SIGINT'));
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, page, viewer }));
  });
}
