import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { integer, list, listenAddress, nonEmpty, oneOf, outputFile, prefixes, repeatable, resolution, u32 } from './Flags.ts';

const rejects = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof InvalidArgumentError && message.test(err.message));
};

describe('Flags', () => {
  it('integer: decimal digits in range only', () => {
    const port = integer(0, 65535);
    assert.equal(port('0'), 0);
    assert.equal(port('65535'), 65535);
    for (const bad of ['65536', '-1', '1.5', '1e3', ' 80', '0x50', '', 'eighty']) rejects(() => port(bad), /expected an integer in 0\.\.65535/);
    rejects(() => integer(1, 10)('0'), /1\.\.10/);
  });

  it('u32: decimal or 0x hex up to 0xffffffff', () => {
    assert.equal(u32('0x10'), 16);
    assert.equal(u32('4294967295'), 0xffffffff);
    for (const bad of ['4294967296', '0x100000000', '-1', '1.0', 'x']) rejects(() => u32(bad), /u32/);
  });

  it('oneOf, resolution, nonEmpty, listenAddress', () => {
    assert.equal(oneOf(['abi', 'guest'])('guest'), 'guest');
    rejects(() => oneOf(['abi', 'guest'])('Guest'), /expected one of abi, guest/);
    assert.deepEqual(resolution('800x600'), { width: 800, height: 600 });
    rejects(() => resolution('800x'), /WIDTHxHEIGHT/);
    rejects(() => nonEmpty(''), /must not be empty/);
    for (const ok of ['127.0.0.1', '::1', '0.0.0.0', 'localhost']) assert.equal(listenAddress(ok), ok);
    rejects(() => listenAddress('example.org'), /IP address/);
  });

  it('list and prefixes: every entry checked; a prefix that matches nothing is an error', () => {
    assert.deepEqual(list()(' a, b ,,c'), ['a', 'b', 'c']);
    rejects(() => list()(' , '), /1\.\.64 entries/);
    assert.deepEqual(list({ allowEmpty: true })(''), []);
    rejects(() => list({ max: 2 })('a,b,c'), /1\.\.2 entries/);
    assert.deepEqual(list({ item: integer(1, 9) })('1,2'), [1, 2]);
    rejects(() => list({ item: integer(1, 9) })('1,20'), /1\.\.9/);
    const only = prefixes(['abi.size', 'abi.flags', 'gvt.stride'], 'check');
    assert.deepEqual(only('abi.,gvt'), ['abi.', 'gvt']);
    rejects(() => only('abi.,nope'), /'nope' matches no check/);
  });

  it('repeatable collects every occurrence through its item parser', () => {
    const dev = repeatable(nonEmpty);
    assert.deepEqual(dev('b', dev('a', [])), ['a', 'b']);
    rejects(() => dev('', ['a']), /must not be empty/);
  });

  it('outputFile: its folder must exist and it must not be a folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpu-flags-'));
    try {
      assert.equal(outputFile(join(dir, 'x.png')), join(dir, 'x.png'));
      rejects(() => outputFile(join(dir, 'missing', 'x.png')), /does not exist/);
      rejects(() => outputFile(dir), /is a folder/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
