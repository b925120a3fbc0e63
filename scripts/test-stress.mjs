#!/usr/bin/env node
// `npm run test:stress [-- --runs N] [-- <npm test args>]`: the whole suite N times in a row
// (default 3) while every core is kept busy, to prove that no test waits on time. The burner is
// stress-ng when installed (.ci/run installs it), else one Node busy loop per core; it is stopped
// whatever happens (a failed run, Ctrl+C, a crash). Exit 0 only when every run passed.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const argv = process.argv.slice(2);
let runs = 3;
const passThrough = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--runs') runs = Number(argv[++i]);
  else if (argv[i]?.startsWith('--runs=')) runs = Number(argv[i].slice(7));
  else passThrough.push(argv[i]);
}
if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
  console.error('test:stress: --runs takes an integer from 1 to 100');
  process.exit(2);
}

const cores = availableParallelism();
// A safety bound: a burner orphaned by a SIGKILLed script still stops by itself.
const BURN_LIMIT_S = 4 * 3600;

/** Start one CPU burner per core, in its own process group so it can be stopped as a whole. */
function startBurner() {
  const hasStressNg = spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0;
  if (hasStressNg) {
    const p = spawn('stress-ng', ['--cpu', String(cores), '--cpu-method', 'all', '--timeout', `${BURN_LIMIT_S}s`, '--quiet'],
      { stdio: 'ignore', detached: true });
    return { what: `stress-ng --cpu ${cores}`, procs: [p] };
  }
  // The loop checks once a second that its parent is alive, so it never outlives the script.
  const loop = `const p = process.ppid, end = Date.now() + ${BURN_LIMIT_S * 1000}; let next = 0;
    for (;;) { const t = Date.now(); if (t > next) { next = t + 1000; if (process.ppid !== p || t > end) process.exit(0); } }`;
  const procs = [];
  for (let i = 0; i < cores; i++) procs.push(spawn(process.execPath, ['-e', loop], { stdio: 'ignore', detached: true }));
  return { what: `${cores} Node busy loop(s)`, procs };
}

let burner;
let current;
let stopped = false;

function stopBurner() {
  if (stopped || burner === undefined) return;
  stopped = true;
  for (const p of burner.procs) {
    if (p.pid === undefined || p.exitCode !== null) continue;
    try { process.kill(-p.pid, 'SIGTERM'); } catch { /* already gone */ }
  }
}

process.on('exit', stopBurner);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\ntest:stress: ${sig}, stopping the burner`);
    stopBurner();
    // The suite runs in its own process group: stop test.mjs and the node --test under it.
    if (current?.pid !== undefined) { try { process.kill(-current.pid, 'SIGTERM'); } catch { /* gone */ } }
    process.exit(130);
  });
}

function runSuite() {
  return new Promise((resolve) => {
    current = spawn(process.execPath, [`${root}scripts/test.mjs`, ...passThrough], { cwd: root, stdio: 'inherit', detached: true });
    current.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    current.on('error', () => resolve(1));
  });
}

burner = startBurner();
const started = burner.procs.filter((p) => p.pid !== undefined).length;
if (started === 0) {
  console.error('test:stress: the CPU burner did not start');
  process.exit(1);
}
console.log(`test:stress: ${runs} run(s) of npm test${passThrough.length ? ` ${passThrough.join(' ')}` : ''} ` +
  `under ${burner.what} (pids ${burner.procs.map((p) => p.pid).join(', ')})`);

const results = [];
for (let i = 1; i <= runs; i++) {
  console.log(`\ntest:stress: run ${i} of ${runs}`);
  const t0 = Date.now();
  const code = await runSuite();
  current = undefined;
  results.push({ run: i, code, s: (Date.now() - t0) / 1000 });
  console.log(`test:stress: run ${i} ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const alive = burner.procs.every((p) => p.exitCode === null && p.signalCode === null);
stopBurner();

console.log('\ntest:stress summary');
for (const r of results) console.log(`  run ${r.run}: ${r.code === 0 ? 'pass' : `FAIL (exit ${r.code})`}  ${r.s.toFixed(1)} s`);
if (!alive) console.log('  warning: a burner process ended before the last run finished');
const failed = results.filter((r) => r.code !== 0).length;
console.log(`  ${runs - failed} of ${runs} passed under ${burner.what}`);
process.exit(failed === 0 && alive ? 0 : 1);
