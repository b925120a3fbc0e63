#!/usr/bin/env node
// Entry point. In the repository (src/ beside bin/, tsx installed) the CLI runs from its TypeScript
// sources through tsx, so `npm start` and `npm test` need no build and never run a stale one; the
// installed package has no src/ and runs the JavaScript its build compiled into dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let tsx = null;
if (existsSync(source)) {
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    // A clone installed without devDependencies: use dist/ if it was built.
  }
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  await import('../dist/cli/main.js');
} else {
  console.error('vgpu-display: no compiled CLI (dist/) and no tsx to run the sources: run `npm ci`, or `npm run build`');
  process.exitCode = 1;
}
