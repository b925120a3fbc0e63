import { Errno } from '../base/Errno.ts';
import type { VgpuKind } from '../vfio/EmulatedHost.ts';
import {
  DMA_BUF_IOCTL_SYNC, VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS,
} from '../vfio/Abi.ts';

/**
 * The errno each operation may return, from the spec tables (kernel-side.md §1–§6, §2.8, §4.3–4.4,
 * §5, §10) plus the syscall-level answers every Linux file gives (EBADF for a closed fd, ENOTTY for
 * an unknown ioctl, EINVAL for a read on a file without read, ESPIPE for pread on an eventfd,
 * EMFILE when the fd table is full). Anything else is a fuzz failure.
 *
 * Our documented deviations are allowed where the spec says we deviate: EPERM for a write to a
 * read-only EDID register on every device kind (GVT's strict rules, §6), ENOSPC when the u32 id
 * space is exhausted (idr_alloc's error, passed through, §2.8).
 */
export type FileKind = 'vfio-device' | 'dmabuf' | 'eventfd' | 'none';

const set = (...codes: number[]): ReadonlySet<number> => new Set(codes);

/** QUERY_GFX_PLANE: argsz < 60 or bad flags/type → EINVAL, short buffer → EFAULT (§2.8, §4.3, §5). */
const QUERY: Record<VgpuKind, ReadonlySet<number>> = {
  // GVT: decoder errors (format, cursor mode, GMA, translation, size 0) EINVAL; start or range
  // validation EFAULT; allocation ENOMEM; idr_alloc exhaustion ENOSPC.
  gvt: set(Errno.EINVAL, Errno.EFAULT, Errno.ENOMEM, Errno.ENOSPC),
  // mbochs: flags only (a disabled or invalid mode is success with an empty plane; B12 fixed).
  bochs: set(Errno.EINVAL, Errno.EFAULT, Errno.ENOSPC),
  region: set(Errno.EINVAL, Errno.EFAULT),
};

/** GET_GFX_DMABUF (§2.4, §4.4, §5): unknown id GVT EINVAL / mbochs ENOENT; mdpy has none. */
const GET_DMABUF: Record<VgpuKind, ReadonlySet<number>> = {
  gvt: set(Errno.EINVAL, Errno.EFAULT, Errno.ENOMEM, Errno.EMFILE),
  // mbochs: unknown id ENOENT, a pan that is not page aligned EINVAL.
  bochs: set(Errno.ENOENT, Errno.EINVAL, Errno.EFAULT, Errno.ENOMEM, Errno.EMFILE),
  region: set(Errno.ENOTTY),
};

/** Errnos of an ioctl on a VFIO device fd, by request. `destroyed` devices answer ENODEV. */
export function deviceIoctlErrnos(kind: VgpuKind, request: number): ReadonlySet<number> {
  switch (request >>> 0) {
    case VFIO_DEVICE_GET_INFO:
    case VFIO_DEVICE_GET_REGION_INFO:
    case VFIO_DEVICE_GET_IRQ_INFO:
      return set(Errno.EINVAL, Errno.EFAULT, Errno.ENODEV);
    case VFIO_DEVICE_SET_IRQS:
      // vfio_set_irqs_validate_and_prepare EINVAL/EFAULT; an eventfd that is not one: EBADF/EINVAL.
      return set(Errno.EINVAL, Errno.EFAULT, Errno.EBADF, Errno.ENODEV);
    case VFIO_DEVICE_RESET:
      return set(Errno.ENODEV);
    case VFIO_DEVICE_QUERY_GFX_PLANE:
      return withEnodev(QUERY[kind]);
    case VFIO_DEVICE_GET_GFX_DMABUF:
      return withEnodev(GET_DMABUF[kind]);
    default:
      return set(Errno.ENOTTY, Errno.ENODEV);
  }
}

function withEnodev(s: ReadonlySet<number>): ReadonlySet<number> {
  return new Set([...s, Errno.ENODEV]);
}

/** QUERY errnos for a well-formed request (argsz 64, flags DMABUF): what a guest can provoke. */
export function rejectedPlaneErrnos(kind: VgpuKind): ReadonlySet<number> {
  // Everything argsz/flags could cause is excluded: only the decoder's answers remain.
  if (kind === 'gvt') return set(Errno.EINVAL, Errno.EFAULT);
  return set();
}

/** Errnos of an ioctl on any fd. */
export function ioctlErrnos(file: FileKind, kind: VgpuKind | undefined, request: number): ReadonlySet<number> {
  if (file === 'none') return set(Errno.EBADF);
  // Not a u32 request number: refused at the syscall boundary, whatever the file.
  if (!Number.isInteger(request) || request < 0 || request > 0xffffffff) return set(Errno.ENOTTY);
  switch (file) {
    case 'vfio-device': return deviceIoctlErrnos(kind ?? 'gvt', request);
    case 'dmabuf':
      // DMA_BUF_IOCTL_SYNC: bad flags EINVAL, short struct EFAULT; anything else ENOTTY.
      return (request >>> 0) === DMA_BUF_IOCTL_SYNC ? set(Errno.EINVAL, Errno.EFAULT) : set(Errno.ENOTTY);
    case 'eventfd': return set(Errno.ENOTTY);
  }
}

/** pread/pwrite. A device region access: outside a region or a bad access size EINVAL, a GVT
 * aperture page the GGTT does not map EFAULT, a read-only EDID register EPERM (write). */
export function rwErrnos(file: FileKind, write: boolean): ReadonlySet<number> {
  switch (file) {
    case 'none': return set(Errno.EBADF);
    case 'vfio-device':
      return write ? set(Errno.EINVAL, Errno.EFAULT, Errno.EPERM, Errno.ENODEV)
        : set(Errno.EINVAL, Errno.EFAULT, Errno.ENODEV);
    case 'dmabuf': return set(Errno.EINVAL);
    case 'eventfd': return write ? set(Errno.EINVAL) : set(Errno.ESPIPE, Errno.EINVAL);
  }
}

/** mmap: device regions EINVAL/EACCES/ENODEV; dma-bufs are read-only (EACCES, B8), an orphan's
 * pages cannot be pinned (ENODEV, B10), a hole in the GGTT at map time EINVAL (B5). */
export function mmapErrnos(file: FileKind): ReadonlySet<number> {
  switch (file) {
    case 'none': return set(Errno.EBADF);
    case 'vfio-device': return set(Errno.EINVAL, Errno.EACCES, Errno.ENODEV);
    case 'dmabuf': return set(Errno.EINVAL, Errno.EACCES, Errno.ENODEV);
    case 'eventfd': return set(Errno.ENODEV, Errno.EINVAL);
  }
}

export const CLOSE_ERRNOS = set(Errno.EBADF);
export const DUP_ERRNOS = set(Errno.EBADF, Errno.EMFILE);
export const EVENTFD_ERRNOS = set(Errno.EMFILE);
/** Opening a device: gone from the bus ENOENT, destroyed ENODEV, table full EMFILE. */
export const OPEN_ERRNOS = set(Errno.ENOENT, Errno.ENODEV, Errno.EMFILE);
export const READ_EVENTFD_ERRNOS = set(Errno.EBADF, Errno.EINVAL, Errno.EAGAIN);
