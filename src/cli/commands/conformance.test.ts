import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, ['bin/vgpu-display.mjs', ...args],
    { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('conformance --device emulated:bochs --json: the report as JSON, exit 0', () => {
  const r = cli('conformance', '--device', 'emulated:bochs', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    device: string; passed: number; failed: number; quirks: unknown[];
    checks: { name: string; ok: boolean; detail: string }[]; behaviour: Record<string, string>;
    notApplicable: { name: string; reason: string }[];
  };
  assert.equal(j.device, 'emulated:bochs');
  assert.equal(j.failed, 0);
  assert.ok(j.passed >= 40, `passed ${j.passed}`);
  assert.deepEqual(j.quirks, []);
  assert.equal(j.checks.length, j.passed);
  for (const c of j.checks) {
    assert.equal(typeof c.name, 'string');
    assert.equal(c.ok, true);
    assert.equal(typeof c.detail, 'string');
  }
  assert.equal(j.behaviour['get-unknown-id'], '-ENOENT');
  assert.ok(j.notApplicable.some((n) => n.name === 'gvt.pvinfo'));
});

test('conformance text output: one line per check and a summary', () => {
  const r = cli('conformance', '--device', 'emulated:region');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.some((l) => /^ok +region\.query +XRGB8888/.test(l)));
  assert.ok(lines.some((l) => /^n\/a +dmabuf\.get /.test(l)));
  assert.match(lines.at(-1)!, /^emulated:region \(region, emulated\): \d+ checks, \d+ ok, 0 failed/);
});

test('conformance: a bad or missing --device is a usage error (exit 2, nothing on stdout)', () => {
  const bad = cli('conformance', '--device', 'emulated:nope');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--device <spec>' argument 'emulated:nope' is invalid\. unknown emulated type 'nope'/);
  assert.equal(bad.stdout, '');
  const none = cli('conformance');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--device/);
});
