// Check struct tables and constants against real kernel UAPI headers: a C program generated FROM
// the tables prints sizeof/offsetof of every field and the value of every constant, and we compare.
// Used by src/vfio/Abi.test.ts (the machine's <linux/vfio.h>) and test/kernel/cdev-abi.ts (the
// cdev/iommufd structs against the 6.12 headers the kernel suite installs).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIELD_SIZE, fieldEnd } from '../../vfio/StructLayout.ts';
import type { Field, Layout } from '../../vfio/StructLayout.ts';

export interface UapiSource {
  /** Headers to include, e.g. ['linux/vfio.h', 'linux/dma-buf.h']. */
  readonly headers: readonly string[];
  /** -I folders searched before the system's (e.g. a `make headers_install` tree). */
  readonly includeDirs?: readonly string[];
}

export type Present = Map<Field, boolean>;

/** What the compiler said: `sizeof|S`, `offsetof|S|f`, `sizeof|S|f`, `const|NAME` → value. */
export interface HeaderFacts {
  readonly values: ReadonlyMap<string, number>;
  readonly present: Present;
}

export class UapiCompiler {
  private readonly _dir = mkdtempSync(join(tmpdir(), 'uapi-abi-'));
  private _n = 0;

  public constructor(private readonly _src: UapiSource) {}

  public get prelude(): string {
    return `#include <stddef.h>\n#include <stdio.h>\n${this._src.headers.map((h) => `#include <${h}>\n`).join('')}`;
  }

  public compile(src: string, syntaxOnly: boolean): { ok: boolean; exe: string; err: string } {
    const name = `p${this._n++}`;
    const file = join(this._dir, `${name}.c`);
    const exe = join(this._dir, name);
    writeFileSync(file, src);
    const inc = (this._src.includeDirs ?? []).flatMap((d) => ['-I', d]);
    const args = syntaxOnly ? [...inc, '-fsyntax-only', file] : [...inc, '-Wall', '-O0', '-o', exe, file];
    const r = spawnSync('cc', args, { encoding: 'utf8' });
    if (r.error) throw r.error;
    return { ok: r.status === 0, exe, err: r.stderr };
  }

  /** Does the header's struct have this member? (Optional fields are newer than some headers.) */
  public hasMember(layout: Layout, f: Field): boolean {
    return this.compile(`${this.prelude}int main(void) { return (int)offsetof(${layout.c}, ${f.c}); }\n`, true).ok;
  }

  /** Compile and run the generated program; throws with the compiler's message on failure. */
  public facts(layouts: readonly Layout[], constants: readonly string[]): HeaderFacts {
    const present: Present = new Map();
    for (const l of layouts) {
      for (const f of Object.values(l.fields)) present.set(f, f.optional ? this.hasMember(l, f) : true);
    }
    const prog = this.compile(cProgram(this.prelude, layouts, constants, present), false);
    if (!prog.ok) throw new Error(`cc failed:\n${prog.err}`);
    const run = spawnSync(prog.exe, [], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`the ABI program failed: ${run.stderr}`);
    const values = new Map<string, number>();
    for (const line of run.stdout.trim().split('\n')) {
      const eq = line.lastIndexOf('=');
      values.set(line.slice(0, eq), Number(line.slice(eq + 1)));
    }
    return { values, present };
  }

  public dispose(): void {
    rmSync(this._dir, { recursive: true, force: true });
  }
}

function cProgram(prelude: string, layouts: readonly Layout[], constants: readonly string[], present: Present): string {
  const lines: string[] = [];
  for (const l of layouts) {
    lines.push(`  printf("sizeof|${l.c}=%zu\\n", sizeof(${l.c}));`);
    for (const f of Object.values(l.fields)) {
      if (!present.get(f)) continue;
      const member = f.flex ? `${f.c}[0]` : f.c; // sizeof a flexible array is its element size
      lines.push(`  printf("offsetof|${l.c}|${f.c}=%zu\\n", offsetof(${l.c}, ${f.c}));`);
      lines.push(`  printf("sizeof|${l.c}|${f.c}=%zu\\n", sizeof(((${l.c} *)0)->${member}));`);
    }
  }
  for (const name of constants) lines.push(`  printf("const|${name}=%llu\\n", (unsigned long long)(${name}));`);
  return `${prelude}int main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`;
}

/** Compare one table with the compiler's answers; returns the list of disagreements. */
export function compareLayout(l: Layout, c: ReadonlyMap<string, number>, present: Present): string[] {
  const bad: string[] = [];
  const fields = Object.values(l.fields);
  let absentOptionalAt = Infinity;
  for (const f of fields) {
    if (!present.get(f)) {
      if (!f.optional) bad.push(`${l.c}: ${f.c} missing from the header`);
      else absentOptionalAt = Math.min(absentOptionalAt, f.offset);
      continue;
    }
    const off = c.get(`offsetof|${l.c}|${f.c}`);
    const size = c.get(`sizeof|${l.c}|${f.c}`);
    if (off !== f.offset) bad.push(`${l.c}: ${f.c} offset ${f.offset}, header ${off}`);
    if (size !== FIELD_SIZE[f.type]) bad.push(`${l.c}: ${f.c} size ${FIELD_SIZE[f.type]}, header ${size}`);
    if (!f.flex && fieldEnd(f) > l.size) bad.push(`${l.c}: ${f.c} ends past sizeof ${l.size}`);
  }
  // An optional field missing from an older header was either tail padding (same sizeof) or
  // absent (sizeof ends where it starts).
  const sz = c.get(`sizeof|${l.c}`);
  if (sz !== l.size && sz !== absentOptionalAt) bad.push(`${l.c}: sizeof ${l.size}, header ${sz}`);
  // Table self-consistency: only union aliases may overlap.
  const real = fields.filter((f) => !f.alias && !f.flex).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < real.length; i++) {
    if (real[i]!.offset < fieldEnd(real[i - 1]!)) bad.push(`${l.c}: ${real[i]!.c} overlaps`);
  }
  for (const f of fields.filter((x) => x.alias)) {
    if (!real.some((r) => r.offset === f.offset && r.type === f.type)) bad.push(`${l.c}: alias ${f.c}`);
  }
  return bad;
}

export function compareConstants(consts: ReadonlyArray<readonly [string, number]>, c: ReadonlyMap<string, number>): string[] {
  return consts
    .filter(([name, v]) => c.get(`const|${name}`) !== v)
    .map(([name, v]) => `${name} = ${v}, header ${c.get(`const|${name}`)}`);
}
