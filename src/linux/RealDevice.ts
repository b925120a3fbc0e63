import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Errno, ErrnoError } from '../base/Errno.ts';
import {
  VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, ioctlName,
} from '../vfio/Abi.ts';
import {
  encodeAttach, encodeBind, encodeIoasAlloc, IOMMU_IOAS_ALLOC, readDevid, readIoasId,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD,
} from '../vfio/CdevAbi.ts';
import { describeHolders, findDeviceHolders } from './DeviceHolders.ts';
import { errnoName, O_RDWR } from './Libc.ts';
import { LinuxSys } from './LinuxSys.ts';

/**
 * `--vfio-api`: `cdev` = the device cdev bound to an iommufd (Linux 6.6+ with
 * CONFIG_VFIO_DEVICE_CDEV), `group` = container/group (every kernel with CONFIG_VFIO_GROUP; on
 * IOMMUFD_VFIO_CONTAINER kernels /dev/vfio/vfio is iommufd's emulation), `auto` = cdev when the
 * mdev has one, else group.
 */
export type VfioApi = 'cdev' | 'group' | 'auto';
export const VFIO_APIS: readonly VfioApi[] = ['cdev', 'group', 'auto'];

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A real mediated device opened through /dev/vfio. Structurally an `OpenedDevice`
 * (src/cli/DeviceSpec.ts), which imports this module dynamically; defined here because linux/
 * sits below cli/ in the layers.
 */
export interface RealOpenedDevice {
  readonly spec: string;
  readonly sys: LinuxSys;
  /** The device fd (VFIO_GROUP_GET_DEVICE_FD, or the bound cdev). */
  readonly fd: number;
  /** How it was opened. */
  readonly api: 'cdev' | 'group';
  readonly real: true;
  readonly uuid: string;
  /** The mdev's sysfs folder, e.g. /sys/bus/mdev/devices/UUID. */
  readonly sysfsPath: string;
  /** /dev/vfio/N */
  readonly groupPath: string;
  /** /dev/vfio/devices/vfioN when the kernel has the device cdev (opened only with api cdev). */
  readonly cdevPath: string | undefined;
  /** cdev: the iommufd object ids of the binding and of the IOAS the device is attached to. */
  readonly iommufd?: { readonly devid: number; readonly ioasId: number };
  /** The mdev type folder name, e.g. `mbochs-small` (undefined if sysfs does not say). */
  readonly mdevType: string | undefined;
  /** The vendor driver, e.g. `mbochs`. */
  readonly driver: string | undefined;
  /** Close the device fd and the group and container (or iommufd) fds (idempotent). */
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
  /** Which VFIO user API to open it through (default auto). */
  vfioApi?: VfioApi;
  /** Where procfs is mounted, to name the process holding a busy device. Default /proc. */
  procRoot?: string;
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
 * Open a mediated device the way a VMM does, through one of two APIs (`opts.vfioApi`):
 * - cdev: /dev/iommu → IOMMU_IOAS_ALLOC; /dev/vfio/devices/vfioN (from SYSFS/vfio-dev/) →
 *   VFIO_DEVICE_BIND_IOMMUFD → VFIO_DEVICE_ATTACH_IOMMUFD_PT(IOAS);
 * - group: container (/dev/vfio/vfio, API version, TYPE1 IOMMU) → group (/dev/vfio/N from the
 *   mdev's iommu_group link; viable; SET_CONTAINER) → VFIO_GROUP_GET_DEVICE_FD(uuid).
 * Every fd is close-on-exec. Throws an ErrnoError (or Error) naming the failing step, the path and
 * the errno; nothing stays open after a failure. A device another program holds is EBUSY, naming
 * the holder when /proc shows it.
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
  const cdevName = deviceCdevName(sysfsPath);
  const cdevPath = cdevName ? join(devRoot, 'vfio/devices', cdevName) : undefined;
  const iommuPath = join(devRoot, 'iommu');
  const mdevType = linkName(join(sysfsPath, 'mdev_type'));
  const driver = linkName(join(sysfsPath, 'driver'));
  const wanted = opts.vfioApi ?? 'auto';
  const api = wanted !== 'auto' ? wanted : cdevPath && existsSync(cdevPath) && existsSync(iommuPath) ? 'cdev' : 'group';
  if (api === 'cdev' && !cdevPath) {
    fail0(`${where}: --vfio-api cdev: mdev ${uuid} has no VFIO device cdev (${join(sysfsPath, 'vfio-dev')} is missing: ` +
      'the kernel lacks CONFIG_VFIO_DEVICE_CDEV, Linux 6.6+ with CONFIG_IOMMUFD); use --vfio-api group', Errno.ENODEV);
  }

  const sys = opts.sys ?? new LinuxSys();
  const opened: number[] = [];
  const closeAll = (): void => { for (const fd of opened.reverse()) sys.close(fd); opened.length = 0; };
  const fail = (rc: number, message: string): never => {
    closeAll();
    throw rc < 0 ? new ErrnoError(-rc, message) : new Error(message);
  };
  /** The device is someone else's: say who, and what to use instead (exit 1, nothing changed). */
  const busy = (rc: number, step: string): never => {
    closeAll();
    const nodes = [groupPath, ...(cdevPath ? [cdevPath] : [])];
    const holders = findDeviceHolders(nodes, { procRoot: opts.procRoot });
    const who = holders.length > 0 ? `in use: ${describeHolders(holders)}`
      : `in use by another program (no process found holding ${nodes.join(' or ')}: it may run as another user, ` +
        'or hold only a device fd, which /proc shows as anon_inode:[vfio-device])';
    throw new ErrnoError(Errno.EBUSY, `${where}: ${step}: ${errnoName(rc)}: mdev ${uuid} is ${who}. ` +
      'A VFIO device is opened by one program at a time (one bound cdev fd, one process per group), so a ' +
      'display cannot be read here while a VM uses the device: to show a running VM, use --qemu (QEMU\'s D-Bus display)');
  };

  let fd: number;
  let iommufd: { devid: number; ioasId: number } | undefined;
  if (api === 'cdev') {
    // /dev/iommu → an IOAS; the cdev → BIND to the iommufd → ATTACH to the IOAS. mdev sample
    // drivers pin no guest memory, so the IOAS stays empty (a VMM maps guest RAM into it).
    const ifd = sys.open(iommuPath, O_RDWR);
    if (ifd < 0) {
      const why = ifd === -Errno.ENOENT ? 'no iommufd device (CONFIG_IOMMUFD off); use --vfio-api group'
        : ifd === -Errno.EACCES ? 'permission denied (run as root, or grant access to /dev/iommu)' : errnoName(ifd);
      fail(ifd, `${where}: open ${iommuPath}: ${why}`);
    }
    opened.push(ifd);
    const alloc = encodeIoasAlloc();
    let rc = sys.ioctl(ifd, IOMMU_IOAS_ALLOC, alloc);
    if (rc < 0) fail(rc, `${where}: ${iommuPath}: IOMMU_IOAS_ALLOC`);
    const ioasId = readIoasId(alloc);
    fd = sys.open(cdevPath!, O_RDWR);
    if (fd < 0) {
      const why = fd === -Errno.ENOENT ? `no such device node (the cdev of mdev ${uuid}; is devtmpfs mounted?)`
        : fd === -Errno.EACCES ? `permission denied (run as root, or chown ${cdevPath} and /dev/iommu to your user)` : errnoName(fd);
      fail(fd, `${where}: open ${cdevPath}: ${why}`);
    }
    opened.push(fd);
    const bind = encodeBind(ifd);
    rc = sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind);
    // EINVAL: another fd already has the device (a bound cdev, or a group's device fd); EBUSY: its
    // group is open. A fresh fd with a valid iommufd has no other reason to fail either way.
    if (rc === -Errno.EINVAL || rc === -Errno.EBUSY) busy(rc, `${cdevPath}: VFIO_DEVICE_BIND_IOMMUFD`);
    if (rc < 0) fail(rc, `${where}: ${cdevPath}: VFIO_DEVICE_BIND_IOMMUFD`);
    const devid = readDevid(bind);
    const attach = encodeAttach(ioasId);
    rc = sys.ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach);
    if (rc < 0) fail(rc, `${where}: ${cdevPath}: VFIO_DEVICE_ATTACH_IOMMUFD_PT(IOAS ${ioasId})`);
    iommufd = { devid, ioasId };
  } else {
    fd = openThroughGroup();
  }
  if (driver === 'mbochs' && (opts.pinMbochsDmabufs ?? true)) sys.pinDmabufs(fd);

  function openThroughGroup(): number {
    const containerPath = join(devRoot, 'vfio', 'vfio');
    const container = sys.open(containerPath, O_RDWR);
    if (container < 0) {
      const why = container === -Errno.ENOENT ? 'no VFIO container device (CONFIG_VFIO off, or the vfio module not loaded)'
        : container === -Errno.EACCES ? 'permission denied (run as root, or grant access to /dev/vfio)'
          : errnoName(container);
      fail(container, `${where}: open ${containerPath}: ${why}`);
    }
    opened.push(container);
    const version = sys.ioctl(container, VFIO_GET_API_VERSION, new Uint8Array(0));
    if (version < 0) fail(version, `${where}: ${containerPath}: VFIO_GET_API_VERSION failed (not a VFIO container?)`);
    if (version !== VFIO_API_VERSION) fail(0, `${where}: ${containerPath}: VFIO API version ${version}, expected ${VFIO_API_VERSION}`);
    const type1 = sys.ioctlInt(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) === 1;
    const type1v2 = sys.ioctlInt(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) === 1;
    if (!type1 && !type1v2) fail(0, `${where}: ${containerPath}: the kernel offers no TYPE1 IOMMU backend`);

    const groupFd = sys.open(groupPath, O_RDWR);
    if (groupFd === -Errno.EBUSY) busy(groupFd, `open ${groupPath}`);
    if (groupFd < 0) {
      const why = groupFd === -Errno.ENOENT ? `no such device node (group ${group} of mdev ${uuid}; is devtmpfs mounted?)`
        : groupFd === -Errno.EACCES ? `permission denied opening VFIO group ${group} of mdev ${uuid} (run as root, or chown the group node to your user)`
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
    const dfd = sys.ioctlString(groupFd, VFIO_GROUP_GET_DEVICE_FD, uuid);
    // A device already opened through a bound cdev (6.6+): the group open above would normally
    // have failed first; this covers a cdev bound in between.
    if (dfd === -Errno.EBUSY) busy(dfd, `${groupPath}: ${ioctlName(VFIO_GROUP_GET_DEVICE_FD)}`);
    if (dfd < 0) fail(dfd, `${where}: ${groupPath}: ${ioctlName(VFIO_GROUP_GET_DEVICE_FD)}(${uuid})`);
    opened.push(dfd);
    return dfd;
  }

  let closed = false;
  return {
    spec, sys, fd, api, real: true, uuid, sysfsPath, groupPath, cdevPath, mdevType, driver,
    ...(iommufd ? { iommufd } : {}),
    close: () => {
      if (closed) return;
      closed = true;
      closeAll();
    },
  };
}

function fail0(message: string, errno: number): never {
  throw new ErrnoError(errno, message);
}

/** `vfioN` from SYSFS/vfio-dev/ (present only when the kernel has CONFIG_VFIO_DEVICE_CDEV). */
function deviceCdevName(sysfsPath: string): string | undefined {
  try {
    return readdirSync(join(sysfsPath, 'vfio-dev')).find((n) => /^vfio[0-9]+$/.test(n));
  } catch {
    return undefined;
  }
}

function linkName(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
}
