import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Errno, ErrnoError } from '../base/Errno.ts';
import { openDevice } from '../cli/DeviceSpec.ts';
import {
  IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD,
} from '../vfio/CdevAbi.ts';
import {
  VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU,
} from '../vfio/Abi.ts';
import { LinuxSys } from './LinuxSys.ts';
import { openRealDevice, resolveRealSpec } from './RealDevice.ts';

const UUID = '6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0001';
const root = mkdtempSync(join(tmpdir(), 'vgpu-realdev-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fake sysfs + /dev: `parts` chooses how far the tree goes. */
function fakeTree(name: string, parts: { bus?: boolean; device?: boolean; group?: boolean; container?: boolean; cdev?: boolean }) {
  const sys = join(root, name, 'sys');
  const dev = join(root, name, 'dev');
  mkdirSync(join(dev, 'vfio'), { recursive: true });
  if (parts.bus) mkdirSync(join(sys, 'bus/mdev/devices'), { recursive: true });
  if (parts.device) {
    const d = join(sys, 'devices/virtual/mbochs/mbochs', UUID);
    mkdirSync(d, { recursive: true });
    symlinkSync(d, join(sys, 'bus/mdev/devices', UUID));
    mkdirSync(join(sys, 'kernel/iommu_groups/7'), { recursive: true });
    mkdirSync(join(sys, 'types/mbochs-small'), { recursive: true });
    symlinkSync(join(sys, 'types/mbochs-small'), join(d, 'mdev_type'));
    if (parts.group) symlinkSync('../../../../../kernel/iommu_groups/7', join(d, 'iommu_group'));
    if (parts.cdev) {
      mkdirSync(join(d, 'vfio-dev/vfio3'), { recursive: true });
      mkdirSync(join(dev, 'vfio/devices'), { recursive: true });
      writeFileSync(join(dev, 'vfio/devices/vfio3'), '');
      writeFileSync(join(dev, 'iommu'), '');
    }
  }
  // A regular file where the container node should be: open works, every ioctl is -ENOTTY.
  if (parts.container) writeFileSync(join(dev, 'vfio/vfio'), '');
  return { sysfsRoot: sys, devRoot: dev };
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

async function rejects(p: Promise<unknown>, errno: number, ...parts: Array<string | RegExp>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error);
    if (errno) {
      assert.ok(err instanceof ErrnoError, `an ErrnoError: ${err.message}`);
      assert.equal(err.errno, errno, err.message);
    }
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(err.message.includes(part), `'${part}' in: ${err.message}`);
      else assert.match(err.message, part);
    }
    return err.message;
  }
  assert.fail('expected a rejection');
}

test('resolveRealSpec: a UUID or a sysfs folder; anything else is an error', () => {
  assert.deepEqual(resolveRealSpec(UUID), { uuid: UUID, sysfsPath: `/sys/bus/mdev/devices/${UUID}` });
  assert.deepEqual(resolveRealSpec(UUID.toUpperCase()), { uuid: UUID, sysfsPath: `/sys/bus/mdev/devices/${UUID}` });
  assert.deepEqual(resolveRealSpec(`/sys/bus/mdev/devices/${UUID}/`), { uuid: UUID, sysfsPath: `/sys/bus/mdev/devices/${UUID}` });
  assert.deepEqual(resolveRealSpec(`/sys/devices/virtual/mbochs/mbochs/${UUID}`).uuid, UUID);
  assert.deepEqual(resolveRealSpec(UUID, '/x').sysfsPath, `/x/bus/mdev/devices/${UUID}`);
  assert.throws(() => resolveRealSpec('mbochs'), /expected an mdev UUID/);
  assert.throws(() => resolveRealSpec(`relative/${UUID}`), /expected an mdev UUID/);
});

test('a missing device is ENOENT with the sysfs path, and says whether mdev exists at all', async () => {
  const none = fakeTree('none', {});
  await rejects(openRealDevice(UUID, none), Errno.ENOENT, /^ENOENT: /, `${none.sysfsRoot}/bus/mdev/devices/${UUID} does not exist`, 'no mdev support');
  const bus = fakeTree('bus', { bus: true });
  await rejects(openRealDevice(UUID, bus), Errno.ENOENT, 'create it with: echo', 'mdev_supported_types');
});

test('on this machine (no mdev devices) --device UUID fails with ENOENT through openDevice', async () => {
  await rejects(openDevice(UUID), Errno.ENOENT, `/sys/bus/mdev/devices/${UUID} does not exist`, `--device ${UUID}`);
  await rejects(openDevice(`/sys/bus/mdev/devices/${UUID}`), Errno.ENOENT, 'no mediated device');
});

test('a device without an IOMMU group says so', async () => {
  const t = fakeTree('nogroup', { bus: true, device: true });
  await rejects(openRealDevice(UUID, t), Errno.ENOENT, 'iommu_group', 'no IOMMU group');
});

test('no container node: ENOENT naming /dev/vfio/vfio', async () => {
  const t = fakeTree('nocontainer', { bus: true, device: true, group: true });
  await rejects(openRealDevice(UUID, t), Errno.ENOENT, `open ${t.devRoot}/vfio/vfio`, 'no VFIO container device');
});

test('a container node that is not VFIO fails at GET_API_VERSION and leaks no fd', async () => {
  const t = fakeTree('notvfio', { bus: true, device: true, group: true, container: true });
  const before = openFds();
  await rejects(openRealDevice(UUID, t), Errno.ENOTTY, 'VFIO_GET_API_VERSION failed');
  assert.equal(openFds(), before);
});

/**
 * A LinuxSys whose VFIO calls are answered by a script (the kernel side is tested in the VM):
 * records every call, and fails the ones `failures` names.
 */
class ScriptedSys extends LinuxSys {
  public readonly calls: string[] = [];
  public readonly closed: number[] = [];
  private _next = 100;
  public constructor(private readonly _fail: Record<string, number> = {}, private readonly _viable = true) {
    super();
  }
  public override open(path: string): number {
    const name = path.endsWith('/vfio/vfio') ? 'open container' : path.endsWith('/iommu') ? 'open iommu'
      : `open ${path.slice(path.lastIndexOf('/vfio/'))}`;
    this.calls.push(name);
    return this._fail[name] ?? this._next++;
  }
  public override ioctl(fd: number, request: number, arg: Uint8Array): number {
    const v = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    switch (request) {
      case VFIO_GET_API_VERSION: this.calls.push(`api ${fd}`); return this._fail.api ?? 0;
      case VFIO_GROUP_GET_STATUS:
        this.calls.push(`status ${fd} argsz ${v.getUint32(0, true)}`);
        v.setUint32(4, this._viable ? 1 : 0, true);
        return 0;
      case VFIO_GROUP_SET_CONTAINER: this.calls.push(`set-container ${fd} ${v.getInt32(0, true)}`); return this._fail.setContainer ?? 0;
      case IOMMU_IOAS_ALLOC:
        this.calls.push(`ioas-alloc ${fd} size ${v.getUint32(0, true)} flags ${v.getUint32(4, true)}`);
        v.setUint32(8, 5, true);
        return this._fail.ioas ?? 0;
      case VFIO_DEVICE_BIND_IOMMUFD:
        this.calls.push(`bind ${fd} argsz ${v.getUint32(0, true)} flags ${v.getUint32(4, true)} iommufd ${v.getInt32(8, true)}`);
        v.setUint32(12, 9, true);
        return this._fail.bind ?? 0;
      case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
        this.calls.push(`attach ${fd} argsz ${v.getUint32(0, true)} flags ${v.getUint32(4, true)} pt ${v.getUint32(8, true)}`);
        return this._fail.attach ?? 0;
      default: return -Errno.ENOTTY;
    }
  }
  public override ioctlInt(fd: number, request: number, value: number): number {
    if (request === VFIO_CHECK_EXTENSION) return 1;
    if (request === VFIO_SET_IOMMU) { this.calls.push(`set-iommu ${fd} ${value}`); return this._fail.setIommu ?? 0; }
    return -Errno.ENOTTY;
  }
  public override ioctlString(fd: number, request: number, s: string): number {
    assert.equal(request, VFIO_GROUP_GET_DEVICE_FD);
    this.calls.push(`get-device-fd ${fd} ${s}`);
    return this._fail.getDevice ?? this._next++;
  }
  public override close(fd: number): number {
    this.closed.push(fd);
    return 0;
  }
}

test('the open sequence: container, API, group, status, SET_CONTAINER, SET_IOMMU(TYPE1), GET_DEVICE_FD', async () => {
  const t = fakeTree('scripted', { bus: true, device: true, group: true });
  const sys = new ScriptedSys();
  const dev = await openRealDevice(`${t.sysfsRoot}/bus/mdev/devices/${UUID}`, { ...t, sys });
  assert.deepEqual(sys.calls, [
    'open container', 'api 100', 'open /vfio/7', 'status 101 argsz 8', 'set-container 101 100',
    `set-iommu 100 ${VFIO_TYPE1_IOMMU}`, `get-device-fd 101 ${UUID}`,
  ]);
  assert.equal(dev.fd, 102);
  assert.equal(dev.real, true);
  assert.equal(dev.groupPath, `${t.devRoot}/vfio/7`);
  assert.equal(dev.mdevType, 'mbochs-small');
  dev.close();
  dev.close();
  assert.deepEqual(sys.closed, [102, 101, 100], 'device, group, container; once');
});

test('EACCES and EBUSY on the group name the group path; nothing stays open', async () => {
  const t = fakeTree('perm', { bus: true, device: true, group: true });
  for (const [errno, text] of [[Errno.EACCES, 'permission denied opening VFIO group 7'], [Errno.EBUSY, 'use --qemu']] as const) {
    const sys = new ScriptedSys({ 'open /vfio/7': -errno });
    await rejects(openRealDevice(UUID, { ...t, sys, procRoot: join(root, 'noproc') }), errno, `open ${t.devRoot}/vfio/7`, text, UUID);
    assert.deepEqual(sys.closed, [100], 'the container is closed again');
  }
  const sys = new ScriptedSys({ 'open container': -Errno.EACCES });
  await rejects(openRealDevice(UUID, { ...t, sys }), Errno.EACCES, `${t.devRoot}/vfio/vfio`, 'permission denied');
});

test('a non-viable group, a failing SET_IOMMU or GET_DEVICE_FD: clear errors, all fds closed', async () => {
  const t = fakeTree('fail', { bus: true, device: true, group: true });
  let sys = new ScriptedSys({}, false);
  await rejects(openRealDevice(UUID, { ...t, sys }), 0, 'not viable');
  assert.deepEqual(sys.closed, [101, 100]);
  sys = new ScriptedSys({ setIommu: -Errno.EBUSY });
  await rejects(openRealDevice(UUID, { ...t, sys }), Errno.EBUSY, 'VFIO_SET_IOMMU(TYPE1)');
  assert.deepEqual(sys.closed, [101, 100]);
  sys = new ScriptedSys({ getDevice: -Errno.EINVAL });
  await rejects(openRealDevice(UUID, { ...t, sys }), Errno.EINVAL, `VFIO_GROUP_GET_DEVICE_FD(${UUID})`);
  assert.deepEqual(sys.closed, [101, 100]);
  sys = new ScriptedSys({ api: 1 });
  await rejects(openRealDevice(UUID, { ...t, sys }), 0, 'VFIO API version 1');
});

test('cdev: auto picks it when the mdev has vfio-dev/vfioN and /dev/iommu exists; IOAS, BIND, ATTACH', async () => {
  const t = fakeTree('cdev', { bus: true, device: true, group: true, cdev: true });
  const sys = new ScriptedSys();
  const dev = await openRealDevice(UUID, { ...t, sys });
  assert.deepEqual(sys.calls, [
    'open iommu', 'ioas-alloc 100 size 12 flags 0', 'open /vfio/devices/vfio3',
    'bind 101 argsz 16 flags 0 iommufd 100', 'attach 101 argsz 12 flags 0 pt 5',
  ]);
  assert.equal(dev.api, 'cdev');
  assert.equal(dev.fd, 101);
  assert.equal(dev.cdevPath, `${t.devRoot}/vfio/devices/vfio3`);
  assert.deepEqual(dev.iommufd, { devid: 9, ioasId: 5 });
  dev.close();
  assert.deepEqual(sys.closed, [101, 100], 'device, then iommufd');
  const g = await openRealDevice(UUID, { ...t, sys: new ScriptedSys(), vfioApi: 'group' });
  assert.equal(g.api, 'group', '--vfio-api group still takes the container/group path');
  assert.equal(g.cdevPath, `${t.devRoot}/vfio/devices/vfio3`);
});

test('cdev: forced on a kernel without it is ENODEV naming the config; auto falls back to group', async () => {
  const t = fakeTree('nocdev', { bus: true, device: true, group: true });
  await rejects(openRealDevice(UUID, { ...t, sys: new ScriptedSys(), vfioApi: 'cdev' }), Errno.ENODEV,
    '--vfio-api cdev', 'CONFIG_VFIO_DEVICE_CDEV', 'use --vfio-api group');
  const dev = await openRealDevice(UUID, { ...t, sys: new ScriptedSys() });
  assert.equal(dev.api, 'group');
});

test('cdev busy: BIND EINVAL (a second bind) or EBUSY (group open) is EBUSY naming the holder and --qemu', async () => {
  const t = fakeTree('busy', { bus: true, device: true, group: true, cdev: true });
  const procRoot = join(root, 'busy-proc');
  mkdirSync(join(procRoot, '4242/fd'), { recursive: true });
  writeFileSync(join(procRoot, '4242/comm'), 'qemu-system-x86\n');
  symlinkSync('/dev/vfio/devices/vfio3', join(procRoot, '4242/fd/12'));
  // the holder's link reads the real /dev path: point the tree's devRoot-based names at /dev
  for (const errno of [Errno.EINVAL, Errno.EBUSY]) {
    const sys = new ScriptedSys({ bind: -errno });
    const msg = await rejects(openRealDevice(UUID, { sysfsRoot: t.sysfsRoot, devRoot: t.devRoot, sys, procRoot }), Errno.EBUSY,
      'VFIO_DEVICE_BIND_IOMMUFD', 'use --qemu', 'one program at a time');
    assert.deepEqual(sys.closed, [101, 100], 'nothing stays open');
    assert.ok(msg.includes('no process found holding'), 'the fake tree\'s nodes are not /dev: not found, and it says so');
  }
  // with the real node names, the holder is named
  const real = fakeTree('busy-real', { bus: true, device: true, group: true, cdev: true });
  const sys = new ScriptedSys({ bind: -Errno.EINVAL });
  await rejects(openRealDevice(UUID, { sysfsRoot: real.sysfsRoot, devRoot: '/dev', sys, procRoot, vfioApi: 'cdev' }),
    Errno.EBUSY, 'pid 4242 (qemu-system-x86) holds /dev/vfio/devices/vfio3', '--qemu');
  // another BIND failure is not "busy"
  await rejects(openRealDevice(UUID, { ...t, sys: new ScriptedSys({ bind: -Errno.ENOTTY }), procRoot }), Errno.ENOTTY, 'VFIO_DEVICE_BIND_IOMMUFD');
  await rejects(openRealDevice(UUID, { ...t, sys: new ScriptedSys({ attach: -Errno.ENOENT }), procRoot }), Errno.ENOENT, 'ATTACH_IOMMUFD_PT(IOAS 5)');
});
