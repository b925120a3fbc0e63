import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  checkImports, checkRepository, layerOf, parseLayerTable, readSources, type SourceFile,
} from './LayerOrder.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const layers = parseLayerTable(readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8'));
const sources = readSources(root);

/** The repository's sources with `path` replaced (or added) by `text`. */
function withFile(path: string, text: string): SourceFile[] {
  return [...sources.filter((f) => f.path !== path), { path, text }];
}

/** The violations of one virtual file, checked with the real table. */
function check(path: string, text: string): string[] {
  return checkImports([{ path, text }], layers).map((v) => v.reason);
}

describe('the layer order of CONTRIBUTING.md', () => {
  it('holds for the repository as it is', () => {
    assert.deepEqual(checkRepository(root), []);
  });

  it('reads the full order, with qemu beside rfb after the server and the test kit after the lab', () => {
    const rank = (f: string): number => layers.find((l) => l.folder === f)!.rank;
    const path = ['base', 'kms', 'gpu', 'vgpu', 'vfio', 'display', 'render', 'server'].map(rank);
    assert.deepEqual(path, [...path].sort((a, b) => a - b), 'the data path is in rank order');
    assert.equal(rank('qemu'), rank('rfb'));
    assert.ok(rank('server') < rank('rfb') && rank('rfb') < rank('lab'), 'rfb and qemu sit between the server and the lab');
    assert.equal(rank('server'), rank('web'));
    assert.ok(rank('lab') < rank('testkit') && rank('testkit') < rank('bench') && rank('bench') < rank('cli'),
      'lab, test kit, bench, cli');
    assert.equal(layerOf(layers, 'src/guest/os/GvtDriver.ts')?.folder, 'guest/os');
    assert.equal(layerOf(layers, 'src/vgpu/gvt/Gen9Programming.ts')?.folder, 'vgpu');
  });

  it('fails when a CLI command imports the test kit, with the file and line', () => {
    const path = 'src/cli/commands/probe.ts';
    const original = sources.find((f) => f.path === path)!.text;
    const text = `${original}\nimport { GvtGuest } from '../../testkit/GvtGuest.ts';\nvoid GvtGuest;\n`;
    const v = checkImports(withFile(path, text), layers);
    assert.equal(v.length, 1, JSON.stringify(v));
    assert.equal(v[0]!.file, path);
    assert.equal(v[0]!.line, original.split('\n').length + 1);
    assert.equal(v[0]!.specifier, '../../testkit/GvtGuest.ts');
    assert.match(v[0]!.reason, /run path imports the test kit/);
  });

  it('passes a legal import in the same file', () => {
    const path = 'src/cli/commands/probe.ts';
    const original = sources.find((f) => f.path === path)!.text;
    const text = `${original}\nimport { Errno } from '../../base/Errno.ts';\nvoid Errno;\n`;
    assert.deepEqual(checkImports(withFile(path, text), layers), []);
  });

  it('lets tests, benches and the test kit use the test kit, but not the lab or the server', () => {
    const imp = (to: string): string => `import { X } from '${to}';\n`;
    assert.deepEqual(check('src/cli/commands/probe.test.ts', imp('../../testkit/GvtGuest.ts')), []);
    assert.deepEqual(check('src/bench/FlipLatency.ts', imp('../testkit/GvtGuest.ts')), []);
    assert.deepEqual(check('src/testkit/node/LabRig.ts', imp('../GvtGuest.ts')), []);
    assert.deepEqual(check('test/scenario/boot.test.ts', imp('../../src/testkit/GvtGuest.ts')), []);
    assert.equal(check('src/lab/Lab.ts', imp('../testkit/FaultSys.ts')).length, 1);
    assert.equal(check('src/server/LabServer.ts', imp('../testkit/node/TestClient.ts')).length, 1);
  });

  it('fails an import up the order or across siblings, and lets tests reach up', () => {
    assert.match(check('src/vfio/VfioMdev.ts', "import { VfioDisplay } from '../display/VfioDisplay.ts';")[0]!,
      /vfio \(rank 5\) imports display \(rank 6\)/);
    assert.match(check('src/web/Session.ts', "import type { X } from '../server/LabServer.ts';")[0]!,
      /imports only layers before it/);
    assert.match(check('src/rfb/RfbServer.ts', "export { Y } from '../qemu/QemuView.ts';")[0]!,
      /rfb \(rank 13\.5\) imports qemu \(rank 13\.5\)/);
    assert.deepEqual(check('src/linux/LinuxSys.test.ts', "import { main } from '../cli/main.ts';"), []);
    // Within a layer, sub-folders import each other freely.
    assert.deepEqual(check('src/vgpu/gvt/GvtDevice.ts', "import { Edid } from '../Edid.ts';"), []);
  });

  it('fails a core layer that imports Node (a Node layer or a node: built-in), dynamic imports too', () => {
    assert.match(check('src/conformance/Suite.ts', "const m = await import('../linux/LinuxSys.ts');")[0]!,
      /conformance is core and imports linux, which is node/);
    assert.match(check('src/render/Png.ts', "import { readFileSync } from 'node:fs';")[0]!,
      /no Node built-ins/);
    assert.deepEqual(check('src/lab/Lab.ts', "import { readFileSync } from 'node:fs';"), []);
    // A commented-out import is not an import.
    assert.deepEqual(check('src/render/Png.ts', "// import { X } from '../server/LabServer.ts';"), []);
  });

  it('fails a file in a folder the table does not list, and an import of one', () => {
    assert.match(check('src/spice/SpiceCodec.ts', '')[0]!, /src\/spice is in no layer/);
    assert.match(check('src/server/Spice.ts', "import { X } from '../spice/SpiceCodec.ts';")[0]!,
      /src\/spice is in no layer/);
  });

  it('takes a new layer from one added row', () => {
    const contributing = readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8');
    const addRow = (md: string, row: string): string => md.replace('<!-- layers:end -->', `${row}\n<!-- layers:end -->`);
    const count = (md: string, path: string, text: string): number =>
      checkImports([{ path, text }], parseLayerTable(md)).length;
    const rfb = addRow(contributing, '| 11 | `src/spice` | core | SPICE |');
    assert.equal(count(rfb, 'src/server/Spice.ts', "import { X } from '../spice/SpiceCodec.ts';"), 0);
    assert.equal(count(rfb, 'src/spice/SpiceCodec.ts', "import { X } from '../server/Http.ts';"), 1);
    // A rank between two existing ones places a layer between them without renumbering.
    const gateway = addRow(rfb, '| 13.5 | `src/gateway` | node | x |');
    assert.equal(count(gateway, 'src/gateway/G.ts', "import { S } from '../server/S.ts';"), 0);
    assert.equal(count(gateway, 'src/lab/L.ts', "import { G } from '../gateway/G.ts';"), 0);
    assert.equal(count(gateway, 'src/server/S.ts', "import { G } from '../gateway/G.ts';"), 1);
  });

  it('refuses a malformed table instead of checking less', () => {
    const table = (...rows: string[]): string => ['<!-- layers:begin -->', ...rows, '<!-- layers:end -->'].join('\n');
    assert.throws(() => parseLayerTable('no table'), /no <!-- layers/);
    assert.throws(() => parseLayerTable(table('| 1 | `src/a` | nodejs | x |')), /bad layer row/);
    assert.throws(() => parseLayerTable(table('| 1 | `src/a` | core | |', '| 2 | `src/a` | core | |')), /listed twice/);
    assert.throws(() => parseLayerTable(table('| rank | folder |')), /no rows/);
  });
});

describe('scripts/LayerOrder.ts as npm test runs it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layer-order-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (): ReturnType<typeof spawnSync> => spawnSync(process.execPath,
    ['--import', 'tsx', join(root, 'scripts/LayerOrder.ts'), '--root', dir], { cwd: root, encoding: 'utf8' });

  it('exits 1 naming the import when a copy of src/cli imports the test kit, 0 once it is gone', () => {
    writeFileSync(join(dir, 'CONTRIBUTING.md'), readFileSync(join(root, 'CONTRIBUTING.md')));
    for (const f of ['src/cli/main.ts', 'src/testkit/GvtGuest.ts', 'src/base/Errno.ts']) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), readFileSync(join(root, f)));
    }
    writeFileSync(join(dir, 'src/cli/Bad.ts'), "import { GvtGuest } from '../testkit/GvtGuest.ts';\nvoid GvtGuest;\n");
    const bad = run();
    assert.equal(bad.status, 1, String(bad.stderr));
    assert.match(String(bad.stderr),
      /src\/cli\/Bad\.ts:1: '\.\.\/testkit\/GvtGuest\.ts': a run path imports the test kit/);
    writeFileSync(join(dir, 'src/cli/Bad.ts'), "import { Errno } from '../base/Errno.ts';\nvoid Errno;\n");
    const good = run();
    assert.equal(good.status, 0, String(good.stderr));
  });
});
