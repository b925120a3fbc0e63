import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DirtyLog } from '../../gpu/DirtyLog.ts';
import { GuestMemory } from '../../gpu/GuestMemory.ts';
import type { MmioTarget } from './HostPort.ts';
import { Vm, type VmExit } from './Vm.ts';

const fixture = (name: string): URL => new URL(`../../testkit/guest/${name}.ts`, import.meta.url);

class Recorder implements MmioTarget {
  public readonly writes: Array<[number, number, number | bigint]> = [];
  private readonly _regs = new Map<number, number | bigint>();
  public read(offset: number, size: number): number | bigint {
    if (offset === 0x2000) return this.writes.length;
    return this._regs.get(offset) ?? (size === 8 ? 0n : 0);
  }
  public write(offset: number, size: number, value: number | bigint): void {
    this.writes.push([offset, size, value]);
    this._regs.set(offset, value);
  }
}

function exited(vm: Vm): Promise<VmExit> {
  return vm.exit ? Promise.resolve(vm.exit) : new Promise((r) => vm.onExit(r));
}

function program(name: string, mmio: MmioTarget, extra: Partial<ConstructorParameters<typeof Vm>[0]> = {}): Vm {
  return new Vm({ kind: 'test', memory: new GuestMemory(1 << 20), mmio, program: fixture(name), ...extra });
}

test('10,000 register writes from a real worker arrive in order; reads see every earlier write', async () => {
  const rec = new Recorder();
  // A small ring, so the guest must wait for the host to drain it many times.
  const vm = program('RingWriter', rec, { ringSlots: 64 });
  const done = exited(vm);
  await vm.boot();
  const exit = await done;
  assert.deepEqual(exit, { reason: 'exited' });
  const main = rec.writes.slice(0, 10_000);
  assert.equal(main.length, 10_000);
  main.forEach(([off, size, v], i) => {
    assert.equal(v, i);
    assert.equal(off, 0x1000 + (i % 16) * 4);
    assert.equal(size, 4);
  });
  assert.deepEqual(rec.writes.slice(10_000), [
    [0x3000, 1, 0xab], [0x3002, 2, 0xabcd], [0x3008, 8, 0x1234_5678_9abc_def0n],
  ]);
  assert.equal(vm.status.readsAnswered, 11);
  assert.equal(vm.state, 'stopped');
  vm.dispose();
});

test('a guest that throws is stopped and reported; the host carries on', async () => {
  const rec = new Recorder();
  const vm = program('Crash', rec);
  const done = exited(vm);
  await vm.boot().catch(() => {});
  const exit = await done;
  assert.equal(exit.reason, 'crashed');
  assert.match(exit.message ?? '', /guest panic: deliberate/);
  assert.equal(vm.state, 'crashed');
  await assert.rejects(vm.waitForFlips(1), /crashed/);
  vm.dispose();
});

test('a guest that stops sending heartbeats is declared hung and terminated', async () => {
  const vm = program('Hang', new Recorder(), { watchdogMs: 300 });
  const done = exited(vm);
  await vm.boot().catch(() => {});
  const exit = await done;
  assert.equal(exit.reason, 'hung');
  assert.match(exit.message ?? '', /no heartbeat for \d+ ms/);
  assert.equal(vm.status.heartbeat, 1);
  vm.dispose();
});

test('a guest that exhausts its heap dies alone', async () => {
  const vm = program('Hog', new Recorder(), { maxHeapMb: 32, watchdogMs: 20_000 });
  const done = exited(vm);
  await vm.boot().catch(() => {});
  const exit = await done;
  assert.equal(exit.reason, 'crashed');
  assert.match(exit.message ?? '', /memory/i);
  assert.equal(vm.status.heartbeat, 1, 'the program itself ran (and died of its allocations)');
  vm.dispose();
});

test('configuration errors are RangeErrors; an unknown kind is refused up front', () => {
  assert.throws(() => new Vm({ kind: 'nope', memory: new GuestMemory(1 << 20), mmio: new Recorder() }), /no guest driver for device kind 'nope'/);
  assert.throws(() => new Vm({ kind: 'gvt', memory: new GuestMemory(1 << 20), mmio: new Recorder(), ringSlots: 100 }), RangeError);
});

test('stop() before boot and dispose() are safe; a destroyed VM reports it', async () => {
  const vm = new Vm({ kind: 'gvt', memory: new GuestMemory(1 << 20), mmio: new Recorder(), dirtyLog: new DirtyLog(256) });
  assert.deepEqual(await vm.stop(), { reason: 'halted' });
  vm.dispose();
  const vm2 = program('Hang', new Recorder(), { watchdogMs: 60_000 });
  const done = exited(vm2);
  await vm2.boot();
  vm2.dispose();
  assert.deepEqual(await done, { reason: 'destroyed' });
});
