import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeHolders, findDeviceHolders } from './DeviceHolders.ts';

const root = mkdtempSync(join(tmpdir(), 'holders-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fake /proc: pid → comm and fd → link target. */
function proc(name: string, pids: Record<string, { comm?: string; fds?: Record<string, string> }>): string {
  const dir = join(root, name);
  for (const [pid, p] of Object.entries(pids)) {
    mkdirSync(join(dir, pid), { recursive: true });
    if (p.comm !== undefined) writeFileSync(join(dir, pid, 'comm'), `${p.comm}\n`);
    if (p.fds) {
      mkdirSync(join(dir, pid, 'fd'));
      for (const [fd, target] of Object.entries(p.fds)) symlinkSync(target, join(dir, pid, 'fd', fd));
    }
  }
  return dir;
}

describe('findDeviceHolders', () => {
  const procRoot = proc('a', {
    1: { comm: 'init', fds: { 0: '/dev/console' } },
    812: { comm: 'qemu-system-x86', fds: { 3: '/dev/iommu', 17: '/dev/vfio/devices/vfio0', 18: 'anon_inode:[vfio-device]' } },
    900: { comm: 'other', fds: { 5: '/dev/vfio/3' } },
    901: { comm: 'unrelated', fds: { 5: '/dev/vfio/devices/vfio1' } },
    950: { comm: 'hidden' }, // no fd folder: another user's process without root
    self: { comm: 'x', fds: { 1: '/dev/vfio/devices/vfio0' } }, // not a pid folder
  });

  test('finds the cdev holder with its comm and fd, and the group holder, in pid order', () => {
    const h = findDeviceHolders(['/dev/vfio/devices/vfio0', '/dev/vfio/3'], { procRoot });
    assert.deepEqual(h, [
      { pid: 812, comm: 'qemu-system-x86', path: '/dev/vfio/devices/vfio0', fd: 17 },
      { pid: 900, comm: 'other', path: '/dev/vfio/3', fd: 5 },
    ]);
  });

  test('a node nobody holds: empty; an unreadable or missing /proc: empty', () => {
    assert.deepEqual(findDeviceHolders(['/dev/vfio/devices/vfio7'], { procRoot }), []);
    assert.deepEqual(findDeviceHolders(['/dev/vfio/3'], { procRoot: join(root, 'nope') }), []);
  });

  test('bounded: limit and link budget', () => {
    const many = proc('b', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [String(i + 10), { comm: 'h', fds: { 3: '/dev/vfio/0' } }])));
    assert.equal(findDeviceHolders(['/dev/vfio/0'], { procRoot: many, limit: 3 }).length, 3);
    assert.equal(findDeviceHolders(['/dev/vfio/0'], { procRoot: many, maxLinks: 5 }).length, 5);
  });

  test('a missing comm reads as empty; describeHolders names pid, comm, node and marks us', () => {
    const p = proc('c', { 42: { fds: { 9: '/dev/vfio/2' } } });
    const h = findDeviceHolders(['/dev/vfio/2'], { procRoot: p });
    assert.deepEqual(h, [{ pid: 42, comm: '', path: '/dev/vfio/2', fd: 9 }]);
    assert.equal(describeHolders(h, 1), 'pid 42 holds /dev/vfio/2');
    assert.equal(describeHolders([{ pid: 7, comm: 'qemu', path: '/dev/vfio/devices/vfio0', fd: 3 }], 7),
      'pid 7 (qemu) — this process holds /dev/vfio/devices/vfio0');
  });

  test('the real /proc: a file this process holds is found, with our pid; closed, it is not', () => {
    const f = join(root, 'held-file');
    writeFileSync(f, 'x');
    const fd = openSync(f, 'r');
    try {
      const h = findDeviceHolders([f]);
      assert.ok(h.some((x) => x.pid === process.pid && x.fd === fd && x.path === f), JSON.stringify(h));
    } finally {
      closeSync(fd);
    }
    assert.ok(!findDeviceHolders([f]).some((x) => x.pid === process.pid));
  });
});
