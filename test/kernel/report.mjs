#!/usr/bin/env node
// Host side of the kernel test: print what the VMs left in their results folders — the step
// table (each summary.tsv: name, exit, seconds, note, VFIO API) with one column per kernel, each
// conformance report (conformance-<device>-<api>.json from `vgpu-display conformance --json`)
// with its quirks and failures, which quirks differ between kernels, and the kernel quirks the
// in-VM programs saw (quirks.txt).
// Usage: node test/kernel/report.mjs KERNEL=RESULTS_DIR...
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const runs = process.argv.slice(2).map((a) => {
  const eq = a.indexOf('=');
  return { kernel: a.slice(0, eq), dir: a.slice(eq + 1) };
});
const read = (dir, f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');

// rows: step + API, in first-seen order; cells: kernel → result
const rows = new Map();
for (const { kernel, dir } of runs) {
  for (const line of read(dir, 'summary.tsv').split('\n').filter(Boolean)) {
    const [name, rc, secs, note, api = ''] = line.split('\t');
    const key = `${name}\t${api}`;
    if (!rows.has(key)) rows.set(key, { name, api, note, cells: new Map() });
    rows.get(key).cells.set(kernel, rc === '0' ? `PASS ${secs.padStart(5)} s` : `FAIL(${rc}) ${secs} s`);
  }
}
const kernels = runs.map((r) => r.kernel);
const W = 16;
console.log('\nkernel test: steps (run in the VM; "host" rows on the host), one column per kernel');
console.log(`  ${'step'.padEnd(20)} ${'VFIO API'.padEnd(11)} ${kernels.map((k) => `Linux ${k}`.padEnd(W)).join(' ')} what`);
const order = [...new Set([...rows.values()].map((r) => r.name))];
const sorted = [...rows.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name) || a.api.localeCompare(b.api));
for (const r of sorted) {
  const cells = kernels.map((k) => (r.cells.get(k) ?? '-').padEnd(W)).join(' ');
  console.log(`  ${r.name.padEnd(20)} ${r.api.padEnd(11)} ${cells} ${r.note}`);
}

// conformance reports, and the quirk sets per device across kernels and APIs
const quirkSets = new Map(); // device → column → Set(bug)
for (const { kernel, dir } of runs) {
  for (const f of readdirSync(dir).filter((n) => /^conformance-.*\.json$/.test(n)).sort()) {
    const [, device, api] = /^conformance-([^-]+)-?(.*)\.json$/.exec(f);
    let r;
    try {
      r = JSON.parse(read(dir, f));
    } catch (err) {
      console.log(`\n${kernel} ${f}: not JSON (${err.message})`);
      continue;
    }
    console.log(`\nLinux ${kernel} ${f}: ${r.device} (${r.family}${r.real ? ', real' : ''}): ${r.passed} ok, ${r.failed} failed, ` +
      `${r.quirks.length} quirks, ${r.notApplicable.length} n/a`);
    for (const q of r.quirks) console.log(`  quirk ${q.bug.padEnd(18)} ${q.name}: ${q.text}`);
    for (const c of r.checks.filter((x) => !x.ok)) console.log(`  FAIL  ${c.name}: ${c.detail}`);
    if (!quirkSets.has(device)) quirkSets.set(device, new Map());
    quirkSets.get(device).set(`${kernel} ${api}`, new Set(r.quirks.map((q) => `${q.bug} ${q.name}`)));
  }
}
for (const [device, cols] of quirkSets) {
  const all = new Set([...cols.values()].flatMap((s) => [...s]));
  const differ = [...all].filter((q) => [...cols.values()].some((s) => !s.has(q)));
  console.log(`\nconformance quirks of ${device} across ${[...cols.keys()].join(', ')}: ` +
    (differ.length === 0 ? `the same ${all.size} everywhere` : `${differ.length} differ:`));
  for (const q of differ) console.log(`  ${q}: ${[...cols].filter(([, s]) => s.has(q)).map(([c]) => c).join(', ')}`);
}

// quirks.txt: "device (api): ID: detail" per sighting; one line per kernel, device and ID.
const seen = new Map();
for (const { kernel, dir } of runs) {
  for (const line of read(dir, 'quirks.txt').split('\n').filter(Boolean)) {
    const [device, id, ...rest] = line.split(': ');
    const key = `${kernel} ${device}: ${id}`;
    const e = seen.get(key) ?? { n: 0, detail: rest.join(': ') };
    e.n++;
    seen.set(key, e);
  }
}
if (seen.size) {
  console.log('\nkernel quirks the test programs saw (known kernel behaviour, not failures):');
  for (const [key, e] of seen) console.log(`  ${key.padEnd(34)} ${e.detail}${e.n > 1 ? ` (seen ${e.n}x)` : ''}`);
}
