import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { planChunks, register } from './fuzz.ts';

async function run(args: string[]): Promise<{ out: string; code: number | undefined }> {
  const program = new Command('vgpu-display').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  const out: string[] = [];
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  // The command writes strings; the test runner's own reports (binary) must pass through.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]): boolean => {
    if (typeof chunk !== 'string') return write.call(process.stdout, chunk, ...rest);
    out.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]): boolean =>
    typeof chunk === 'string' ? true : writeErr.call(process.stderr, chunk, ...rest)) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'vgpu-display', 'fuzz', ...args]);
    return { out: out.join(''), code: process.exitCode as number | undefined };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    process.exitCode = undefined;
  }
}

interface Summary {
  seed: number;
  cases: number;
  failures: unknown[];
  oopses: number;
  leaks: number;
  engines: Record<'abi' | 'guest', { cases: number; ops: number; stats: Record<string, number> }>;
}

describe('vgpu-display fuzz', () => {
  it('runs both engines and prints a JSON summary; exit 0 without failures', async () => {
    const { out, code } = await run(['--cases', '1000', '--guest-cases', '250', '--seed', '0x2a', '--jobs', '1', '--json']);
    const s = JSON.parse(out) as Summary;
    assert.equal(code, 0);
    assert.equal(s.seed, 42);
    assert.equal(s.cases, 1250);
    assert.deepEqual([s.engines.abi.cases, s.engines.guest.cases], [1000, 250]);
    assert.deepEqual([s.failures.length, s.oopses, s.leaks], [0, 0, 0]);
  });

  it('gives the same figures on worker threads as in process (epochs are independent)', async () => {
    const args = ['--cases', '1000', '--guest-cases', '250', '--seed', '9', '--json'];
    const one = JSON.parse((await run([...args, '--jobs', '1'])).out) as Summary;
    const two = JSON.parse((await run([...args, '--jobs', '2'])).out) as Summary;
    assert.deepEqual(two.engines.abi.stats, one.engines.abi.stats);
    assert.deepEqual([two.engines.abi.ops, two.engines.guest.ops], [one.engines.abi.ops, one.engines.guest.ops]);
  });

  it('replays one case', async () => {
    const { out, code } = await run(['--only', 'guest', '--seed', '3', '--replay', '260']);
    assert.equal(code, 0);
    assert.match(out, /guest case 260 \(seed 3\): passed/);
  });

  it('chunks are whole epochs; bad flags are usage errors', async () => {
    assert.deepEqual(planChunks('abi', 45_000).map((c) => [c.firstCase, c.cases]), [[0, 20_000], [20_000, 20_000], [40_000, 5_000]]);
    assert.deepEqual(planChunks('guest', 0), []);
    for (const bad of [['--only', 'kernel'], ['--cases', '-1'], ['--seed', 'x'], ['--seed', '0x100000000'], ['--replay', '3']]) {
      await assert.rejects(run(bad), CommanderError, bad.join(' '));
    }
  });
});
