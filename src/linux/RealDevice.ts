import { existsSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Errno, ErrnoError } from '../base/Errno.ts';
import {
  VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, ioctlName,
} from '../vfio/Abi.ts';
import { errnoName, O_RDWR } from './Libc.ts';
import { LinuxSys } from './LinuxSys.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A real mediated device opened through /dev/vfio. Structurally an `OpenedDevice`
 * (src/cli/DeviceSpec.ts), which imports this module dynamically; defined here because linux/
 * sits below cli/ in the layers.
 */
export interface RealOpenedDevice {
  readonly spec: string;
  readonly sys: LinuxSys;
  /** The device fd (VFIO_GROUP_GET_DEVICE_FD). */
  readonly fd: number;
  readonly real: true;
  readonly uuid: string;
  /** The mdev's sysfs folder, e.g. /sys/bus/mdev/devices/UUID. */
  readonly sysfsPath: string;
  /** /dev/vfio/N */
  readonly groupPath: string;
  /** The mdev type folder name, e.g. `mbochs-small` (undefined if sysfs does not say). */
  readonly mdevType: string | undefined;
  /** The vendor driver, e.g. `mbochs`. */
  readonly driver: string | undefined;
  /** Close the device, group and container fds (idempotent). */
  close(): void;
}

export interface OpenRealDeviceOptions {
  /** Where sysfs is mounted (tests point this at a fake tree). Default /sys. */
  sysfsRoot?: string;
  /** Where the device nodes are. Default /dev. */
  devRoot?: string;
  /** The syscall layer (default: a new LinuxSys). */
  sys?: LinuxSys;
  /**
   * mbochs: keep each exported dma-buf until the device closes (LinuxSys.pinDmabufs), so a GET of
   * a released id never re-exports it (the re-export over-puts VRAM pages). Default true.
   */
  pinMbochsDmabufs?: boolean;
}

/** `--device` for a real kernel: resolve the spec to the mdev's sysfs folder and UUID. */
export function resolveRealSpec(spec: string, sysfsRoot = '/sys'): { uuid: string; sysfsPath: string } {
  const trimmed = spec.replace(/\/+$/, '');
  if (UUID_RE.test(trimmed)) {
    return { uuid: trimmed.toLowerCase(), sysfsPath: join(sysfsRoot, 'bus/mdev/devices', trimmed.toLowerCase()) };
  }
  const name = basename(trimmed);
  if (trimmed.startsWith('/') && UUID_RE.test(name)) return { uuid: name.toLowerCase(), sysfsPath: trimmed };
  throw new Error(`--device ${spec}: expected an mdev UUID or its sysfs folder (/sys/bus/mdev/devices/UUID)`);
}

/**
 * Open a mediated device the way a VMM does: container (/dev/vfio/vfio, API version, TYPE1
 * IOMMU) → group (/dev/vfio/N from the mdev's iommu_group link; viable; SET_CONTAINER) →
 * VFIO_GROUP_GET_DEVICE_FD(uuid). Every fd is close-on-exec. Throws an ErrnoError (or Error)
 * naming the failing step, the path and the errno; nothing stays open after a failure.
 */
export async function openRealDevice(spec: string, opts: OpenRealDeviceOptions = {}): Promise<RealOpenedDevice> {
  const sysfsRoot = opts.sysfsRoot ?? '/sys';
  const devRoot = opts.devRoot ?? '/dev';
  const { uuid, sysfsPath } = resolveRealSpec(spec, sysfsRoot);
  const where = `--device ${spec}`;

  if (!existsSync(sysfsPath)) {
    const bus = join(sysfsRoot, 'bus/mdev');
    const hint = existsSync(bus)
      ? `create it with: echo ${uuid} > ${join(sysfsRoot, 'class/mdev_bus')}/<parent>/mdev_supported_types/<type>/create`
      : `${bus} does not exist either: no mdev support loaded (CONFIG_VFIO_MDEV, and a vendor driver such as mbochs)`;
    throw new ErrnoError(Errno.ENOENT, `${where}: no mediated device ${uuid}: ${sysfsPath} does not exist; ${hint}`);
  }
  let groupLink: string;
  try {
    groupLink = readlinkSync(join(sysfsPath, 'iommu_group'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'ENOENT';
    throw new ErrnoError(code === 'ENOENT' ? Errno.ENOENT : Errno.EIO,
      `${where}: ${join(sysfsPath, 'iommu_group')}: ${code}: the device has no IOMMU group (is a vendor driver bound to it?)`);
  }
  const group = basename(groupLink);
  const groupPath = join(devRoot, 'vfio', group);
  const containerPath = join(devRoot, 'vfio', 'vfio');
  const mdevType = linkName(join(sysfsPath, 'mdev_type'));
  const driver = linkName(join(sysfsPath, 'driver'));

  const sys = opts.sys ?? new LinuxSys();
  const opened: number[] = [];
  const closeAll = (): void => { for (const fd of opened.reverse()) sys.close(fd); opened.length = 0; };
  const fail = (rc: number, message: string): never => {
    closeAll();
    throw rc < 0 ? new ErrnoError(-rc, message) : new Error(message);
  };

  const container = sys.open(containerPath, O_RDWR);
  if (container < 0) {
    const why = container === -Errno.ENOENT ? 'no VFIO container device (CONFIG_VFIO off, or the vfio module not loaded)'
      : container === -Errno.EACCES ? 'permission denied (run as root, or grant access to /dev/vfio)'
        : errnoName(container);
    fail(container, `${where}: open ${containerPath}: ${why}`);
  }
  opened.push(container);
  const api = sys.ioctl(container, VFIO_GET_API_VERSION, new Uint8Array(0));
  if (api < 0) fail(api, `${where}: ${containerPath}: VFIO_GET_API_VERSION failed (not a VFIO container?)`);
  if (api !== VFIO_API_VERSION) fail(0, `${where}: ${containerPath}: VFIO API version ${api}, expected ${VFIO_API_VERSION}`);
  const type1 = sys.ioctlInt(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) === 1;
  const type1v2 = sys.ioctlInt(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) === 1;
  if (!type1 && !type1v2) fail(0, `${where}: ${containerPath}: the kernel offers no TYPE1 IOMMU backend`);

  const groupFd = sys.open(groupPath, O_RDWR);
  if (groupFd < 0) {
    const why = groupFd === -Errno.ENOENT ? `no such device node (group ${group} of mdev ${uuid}; is devtmpfs mounted?)`
      : groupFd === -Errno.EACCES ? `permission denied opening VFIO group ${group} of mdev ${uuid} (run as root, or chown the group node to your user)`
        : groupFd === -Errno.EBUSY ? `VFIO group ${group} is already open (another process, e.g. QEMU, uses mdev ${uuid})`
          : errnoName(groupFd);
    fail(groupFd, `${where}: open ${groupPath}: ${why}`);
  }
  opened.push(groupFd);
  const status = new Uint8Array(8);
  const sv = new DataView(status.buffer);
  sv.setUint32(0, 8, true);
  let rc = sys.ioctl(groupFd, VFIO_GROUP_GET_STATUS, status);
  if (rc < 0) fail(rc, `${where}: ${groupPath}: ${ioctlName(VFIO_GROUP_GET_STATUS)} failed (not a VFIO group?)`);
  if ((sv.getUint32(4, true) & VFIO_GROUP_FLAGS_VIABLE) === 0) {
    fail(0, `${where}: ${groupPath}: VFIO group ${group} is not viable (every device in it must be bound to a VFIO driver)`);
  }
  const cfd = new Uint8Array(4);
  new DataView(cfd.buffer).setInt32(0, container, true);
  rc = sys.ioctl(groupFd, VFIO_GROUP_SET_CONTAINER, cfd);
  if (rc < 0) fail(rc, `${where}: ${groupPath}: ${ioctlName(VFIO_GROUP_SET_CONTAINER)}`);
  // TYPE1 as QEMU's mdev path uses it; the mdev's emulated IOMMU group accepts both.
  rc = sys.ioctlInt(container, VFIO_SET_IOMMU, type1 ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU);
  if (rc < 0) fail(rc, `${where}: ${containerPath}: ${ioctlName(VFIO_SET_IOMMU)}(${type1 ? 'TYPE1' : 'TYPE1v2'})`);
  const fd = sys.ioctlString(groupFd, VFIO_GROUP_GET_DEVICE_FD, uuid);
  if (fd < 0) fail(fd, `${where}: ${groupPath}: ${ioctlName(VFIO_GROUP_GET_DEVICE_FD)}(${uuid})`);
  opened.push(fd);
  if (driver === 'mbochs' && (opts.pinMbochsDmabufs ?? true)) sys.pinDmabufs(fd);

  let closed = false;
  return {
    spec, sys, fd, real: true, uuid, sysfsPath, groupPath, mdevType, driver,
    close: () => {
      if (closed) return;
      closed = true;
      closeAll();
    },
  };
}

function linkName(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
}
