#!/usr/bin/env node
// The package build (`npm run build`; `npm pack` runs it as prepack): tsc compiles src/ to
// JavaScript + .d.ts in dist/ (tsconfig.build.json), and the browser viewer is bundled once into
// dist/web/ (index.html, viewer.js, viewer.css) by the same buildViewer() the server runs from the
// repository, so an installed package needs neither tsx nor esbuild.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { register } from 'tsx/esm/api';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: tsc failed');
  process.exit(1);
}
pruneDeclarations();
register();
const { buildViewer } = await import('../src/web/build.ts');
const viewer = await buildViewer();
mkdirSync(join(dist, 'web'), { recursive: true });
writeFileSync(join(dist, 'web/index.html'), viewer.html);
writeFileSync(join(dist, 'web/viewer.js'), viewer.js);
writeFileSync(join(dist, 'web/viewer.css'), viewer.css);
console.log(`build: dist/ written (viewer.js ${viewer.js.length} bytes)`);

/**
 * Keep only the .d.ts files the package's exports reach (package.json `exports` → types, then their
 * relative imports): the CLI, lab and bench internals ship as JavaScript without types.
 */
function pruneDeclarations() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const keep = new Set();
  const todo = Object.values(pkg.exports).filter((e) => typeof e === 'object').map((e) => join(root, e.types));
  while (todo.length) {
    const file = todo.pop();
    if (keep.has(file)) continue;
    if (!existsSync(file)) throw new Error(`build: ${file} is exported but was not emitted`);
    keep.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      todo.push(resolve(dirname(file), m[1].replace(/\.(ts|js)$/, '.d.ts')));
    }
  }
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.d.ts') && !keep.has(p)) rmSync(p);
    }
  };
  walk(dist);
  return keep.size;
}
