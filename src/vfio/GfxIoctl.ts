import { VFIO_DEVICE_GET_GFX_DMABUF, VFIO_DEVICE_QUERY_GFX_PLANE } from './Abi.ts';
import { encodePlaneInfoRequest, readPlaneInfo, type PlaneInfo } from './PlaneInfo.ts';
import type { Sys } from './Sys.ts';

/** QUERY_GFX_PLANE as a VMM issues it: returns the ioctl result and the decoded struct. */
export function query(sys: Sys, fd: number, flags: number, planeType: number, argsz = 64): { rc: number; info: PlaneInfo; bytes: Uint8Array } {
  const bytes = encodePlaneInfoRequest({ argsz, flags, planeType });
  const rc = sys.ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, bytes);
  return { rc, info: readPlaneInfo(bytes), bytes };
}

/** GET_GFX_DMABUF: a new fd or -errno. */
export function getDmabuf(sys: Sys, fd: number, id: number): number {
  const arg = new Uint8Array(4);
  new DataView(arg.buffer).setUint32(0, id >>> 0, true);
  return sys.ioctl(fd, VFIO_DEVICE_GET_GFX_DMABUF, arg);
}
