#!/usr/bin/env node
// The one test command (`npm test`): check the layer order of CONTRIBUTING.md, type-check every
// layer (the isomorphic core with neither Node nor DOM types), then run every *.test.ts under src/,
// test/ and scripts/ with node:test. Node 20 does not glob, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('-'));

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

if (!args.includes('--no-typecheck')) {
  // The layer order of CONTRIBUTING.md (scripts/LayerOrder.ts), before the slower type-checks.
  if (run(process.execPath, ['--import', 'tsx', join(root, 'scripts/LayerOrder.ts')]) !== 0) process.exit(1);
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  for (const p of ['src/tsconfig.core.json', 'tsconfig.json', 'src/web/tsconfig.json', 'test/browser/tsconfig.json', 'test/kernel/tsconfig.json']) {
    try { statSync(join(root, p)); } catch { continue; }
    console.log(`typecheck ${p}`);
    if (run(process.execPath, [tsc, '-p', p]) !== 0) {
      console.error(`typecheck failed: ${p}`);
      process.exit(1);
    }
  }
}

let files = [...find(join(root, 'src')), ...find(join(root, 'test')), ...find(join(root, 'scripts'))]
  .map((f) => relative(root, f))
  .filter((f) => !f.startsWith('test/kernel/'))
  .sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// --test-force-exit: a failed test can leave a worker or socket open; the run must still end (with
// the failure reported) rather than hang. --test-timeout bounds any single test (a file counts as one) at
// 10 minutes: the slowest browser file took 145 s under a stress run at load 18, so 5 minutes was
// too close for a loaded machine while still catching a hang.
process.exit(run(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=2', '--test-force-exit', '--test-timeout=600000', ...files,
]));
