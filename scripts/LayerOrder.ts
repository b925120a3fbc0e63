// The layer check `npm test` runs (scripts/test.mjs): every import in src/ must follow the layer
// table of CONTRIBUTING.md, which this file reads, so the table is the rule and cannot drift from
// it. Run it alone with `node --import tsx scripts/LayerOrder.ts [--root DIR]`.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Where a layer's code runs: `core` has neither Node nor DOM; `test` is the test kit. */
export type Runtime = 'core' | 'node' | 'dom' | 'test';

export interface Layer {
  /** Folder under src/, e.g. `vgpu` or `guest/os`. */
  readonly folder: string;
  /** A layer imports only layers of a lower rank; layers of one rank are siblings. */
  readonly rank: number;
  readonly runtime: Runtime;
}

/** A source file as the check sees it: path relative to the repository root, with `/`. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  readonly reason: string;
}

const RUNTIMES: readonly Runtime[] = ['core', 'node', 'dom', 'test'];
/** Which runtimes a layer of each runtime may import. */
const MAY_USE: Record<Runtime, readonly Runtime[]> = {
  core: ['core'],
  node: ['core', 'node'],
  dom: ['core', 'dom'],
  test: ['core', 'node', 'dom', 'test'],
};

/**
 * The rows of the layer table: `| rank | \`folder\` | runtime | ... |` between the markers
 * `<!-- layers:begin -->` and `<!-- layers:end -->`. Throws on a malformed table, so a typo in
 * CONTRIBUTING.md fails the check instead of weakening it.
 */
export function parseLayerTable(markdown: string): Layer[] {
  const begin = markdown.indexOf('<!-- layers:begin -->');
  const end = markdown.indexOf('<!-- layers:end -->');
  if (begin < 0 || end < begin) throw new Error('CONTRIBUTING.md: no <!-- layers:begin/end --> table');
  const layers: Layer[] = [];
  for (const line of markdown.slice(begin, end).split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length < 3 || !/^\d+(\.\d+)?$/.test(cells[0]!)) continue;
    const folder = /^`src\/([a-z0-9/]+)`$/.exec(cells[1]!)?.[1];
    const runtime = cells[2] as Runtime;
    if (!folder || !RUNTIMES.includes(runtime)) throw new Error(`CONTRIBUTING.md: bad layer row: ${line}`);
    if (layers.some((l) => l.folder === folder)) throw new Error(`CONTRIBUTING.md: ${folder} listed twice`);
    layers.push({ folder, rank: Number(cells[0]), runtime });
  }
  if (layers.length === 0) throw new Error('CONTRIBUTING.md: the layer table has no rows');
  return layers;
}

/** The layer a path under src/ belongs to (the longest folder that contains it). */
export function layerOf(layers: readonly Layer[], srcPath: string): Layer | undefined {
  let best: Layer | undefined;
  for (const l of layers) {
    if (srcPath.startsWith(`src/${l.folder}/`) && (!best || l.folder.length > best.folder.length)) best = l;
  }
  return best;
}

/** Tests, benches, the test kit and test/ may use the test kit; nothing a user runs may. */
export function isTestPath(path: string): boolean {
  return path.endsWith('.test.ts') || path.startsWith('test/') || path.startsWith('src/testkit/') ||
    path.startsWith('src/bench/');
}

/** Every import of every file against the table. */
export function checkImports(files: readonly SourceFile[], layers: readonly Layer[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const from = f.path.startsWith('src/') ? layerOf(layers, f.path) : undefined;
    if (f.path.startsWith('src/') && !from) {
      const reason = `${posix.dirname(f.path)} is in no layer of CONTRIBUTING.md`;
      out.push({ file: f.path, line: 1, specifier: '', reason });
      continue;
    }
    const test = isTestPath(f.path);
    for (const imp of ts.preProcessFile(f.text, true, true).importedFiles) {
      const spec = imp.fileName;
      const line = f.text.slice(0, imp.pos).split('\n').length;
      const fail = (reason: string): void => { out.push({ file: f.path, line, specifier: spec, reason }); };
      if (spec.startsWith('node:')) {
        if (from && !test && (from.runtime === 'core' || from.runtime === 'dom')) {
          fail(`${from.folder} is ${from.runtime}: no Node built-ins`);
        }
        continue;
      }
      if (!spec.startsWith('.')) continue; // a package: the type-checks hold the runtimes to them
      const target = posix.normalize(posix.join(posix.dirname(f.path), spec));
      if (!target.startsWith('src/')) continue;
      const to = layerOf(layers, target);
      if (!to) {
        fail(`${posix.dirname(target)} is in no layer of CONTRIBUTING.md`);
        continue;
      }
      if (to.runtime === 'test') {
        if (!test) fail(`a run path imports the test kit (${to.folder}); only tests and benches may`);
        continue;
      }
      // Tests may reach up (an integration test drives the layers above it); run paths may not.
      if (!from || test || to === from) continue;
      if (to.rank >= from.rank) {
        fail(`${from.folder} (rank ${from.rank}) imports ${to.folder} (rank ${to.rank}): ` +
          'a layer imports only layers before it');
      } else if (!MAY_USE[from.runtime].includes(to.runtime)) {
        fail(`${from.folder} is ${from.runtime} and imports ${to.folder}, which is ${to.runtime}`);
      }
    }
  }
  return out;
}

/** The .ts/.mts/.js/.mjs files under src/ (and test/), as the check reads them. */
export function readSources(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) {
        files.push({ path: relative(root, p).split(sep).join('/'), text: readFileSync(p, 'utf8') });
      }
    }
  };
  for (const top of ['src', 'test']) {
    try { statSync(join(root, top)); } catch { continue; }
    walk(join(root, top));
  }
  return files;
}

/** Check a checkout: its CONTRIBUTING.md table against its sources. */
export function checkRepository(root: string): Violation[] {
  const layers = parseLayerTable(readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8'));
  return checkImports(readSources(root), layers);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--root');
  const root = i > 0 ? process.argv[i + 1]! : join(dirname(fileURLToPath(import.meta.url)), '..');
  const violations = checkRepository(root);
  for (const v of violations) console.error(`${v.file}:${v.line}: '${v.specifier}': ${v.reason}`);
  if (violations.length) {
    console.error(`layer check: ${violations.length} import(s) against the order in CONTRIBUTING.md`);
    process.exit(1);
  }
  console.log('layer check: every import follows CONTRIBUTING.md');
}
