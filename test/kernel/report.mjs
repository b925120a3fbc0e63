#!/usr/bin/env node
// Host side of the kernel test: print what the VM left in the results folder —
// the step table (summary.tsv), each conformance report (*.json from
// `vgpu-display conformance --json`) with its quirks and failures, and the
// kernel quirks the in-VM programs saw (quirks.txt).
// Usage: node test/kernel/report.mjs RESULTS_DIR
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const read = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');

console.log('\nkernel test: steps (run in the VM)');
for (const line of read('summary.tsv').split('\n').filter(Boolean)) {
  const [name, rc, secs, note] = line.split('\t');
  console.log(`  ${name.padEnd(22)} ${rc === '0' ? 'PASS' : `FAIL (exit ${rc})`.padEnd(4)} ${secs.padStart(6)} s  ${note}`);
}

for (const f of readdirSync(dir).filter((n) => /^conformance-.*\.json$/.test(n)).sort()) {
  let r;
  try {
    r = JSON.parse(read(f));
  } catch (err) {
    console.log(`\n${f}: not JSON (${err.message})`);
    continue;
  }
  console.log(`\n${f}: ${r.device} (${r.family}${r.real ? ', real' : ''}): ${r.passed} ok, ${r.failed} failed, ` +
    `${r.quirks.length} quirks, ${r.notApplicable.length} n/a`);
  for (const q of r.quirks) console.log(`  quirk ${q.bug.padEnd(18)} ${q.name}: ${q.text}`);
  for (const c of r.checks.filter((x) => !x.ok)) console.log(`  FAIL  ${c.name}: ${c.detail}`);
}

// quirks.txt: "device: ID: detail" per sighting; one line per device and ID.
const seen = new Map();
for (const line of read('quirks.txt').split('\n').filter(Boolean)) {
  const [device, id, ...rest] = line.split(': ');
  const key = `${device}: ${id}`;
  const e = seen.get(key) ?? { n: 0, detail: rest.join(': ') };
  e.n++;
  seen.set(key, e);
}
if (seen.size) {
  console.log('\nkernel quirks the test programs saw (known kernel behaviour, not failures):');
  for (const [key, e] of seen) console.log(`  ${key.padEnd(26)} ${e.detail}${e.n > 1 ? ` (seen ${e.n}x)` : ''}`);
}
