import { defineLayout, readLayout, writeLayout } from './StructLayout.ts';

/**
 * The VFIO device cdev (/dev/vfio/devices/vfioN, Linux 6.6+) bound to an iommufd (/dev/iommu,
 * Linux 6.2+): include/uapi/linux/vfio.h and include/uapi/linux/iommufd.h. Kept apart from Abi.ts
 * because the Linux 6.1 headers on the build machine lack them: test/kernel/cdev-abi.ts checks
 * every export here against the 6.12 headers the kernel suite installs (same tables, same check
 * as Abi.test.ts).
 *
 * All are _IO(';', nr): VFIO's at VFIO_BASE (100) + n, iommufd's from IOMMUFD_CMD_BASE (0x80).
 */
export const VFIO_DEVICE_BIND_IOMMUFD = 0x3b76; // VFIO_BASE + 18
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = 0x3b77; // + 19
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = 0x3b78; // + 20
export const IOMMUFD_TYPE = 0x3b; // ';' like VFIO
export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMU_DESTROY = 0x3b80; // IOMMUFD_CMD_BASE + 0
export const IOMMU_IOAS_ALLOC = 0x3b81; // + 1

/** BIND: argsz >= 16, flags 0; the iommufd in, the iommufd object id of the binding out. */
export const BIND_IOMMUFD_LAYOUT = defineLayout('struct vfio_device_bind_iommufd', 16, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' },
  iommufd: { offset: 8, type: 'u32', c: 'iommufd' }, // __s32
  outDevid: { offset: 12, type: 'u32', c: 'out_devid' },
});

/** ATTACH: pt_id in (an IOAS or HWPT id), out (the HWPT actually attached; an IOAS for mdevs). */
export const ATTACH_IOMMUFD_PT_LAYOUT = defineLayout('struct vfio_device_attach_iommufd_pt', 12, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' },
  ptId: { offset: 8, type: 'u32', c: 'pt_id' },
});

export const DETACH_IOMMUFD_PT_LAYOUT = defineLayout('struct vfio_device_detach_iommufd_pt', 8, {
  argsz: { offset: 0, type: 'u32', c: 'argsz' },
  flags: { offset: 4, type: 'u32', c: 'flags' },
});

/** iommufd structs lead with `size` (sizeof what the caller knows), not argsz. */
export const IOAS_ALLOC_LAYOUT = defineLayout('struct iommu_ioas_alloc', 12, {
  size: { offset: 0, type: 'u32', c: 'size' },
  flags: { offset: 4, type: 'u32', c: 'flags' },
  outIoasId: { offset: 8, type: 'u32', c: 'out_ioas_id' },
});

export const IOMMU_DESTROY_LAYOUT = defineLayout('struct iommu_destroy', 8, {
  size: { offset: 0, type: 'u32', c: 'size' },
  id: { offset: 4, type: 'u32', c: 'id' },
});

export const CDEV_LAYOUTS = [
  BIND_IOMMUFD_LAYOUT, ATTACH_IOMMUFD_PT_LAYOUT, DETACH_IOMMUFD_PT_LAYOUT, IOAS_ALLOC_LAYOUT, IOMMU_DESTROY_LAYOUT,
] as const;

export function encodeIoasAlloc(): Uint8Array {
  const b = new Uint8Array(IOAS_ALLOC_LAYOUT.size);
  writeLayout(IOAS_ALLOC_LAYOUT, b, { size: IOAS_ALLOC_LAYOUT.size, flags: 0 });
  return b;
}

export function readIoasId(b: Uint8Array): number {
  return readLayout(IOAS_ALLOC_LAYOUT, b).outIoasId;
}

export function encodeBind(iommufd: number): Uint8Array {
  const b = new Uint8Array(BIND_IOMMUFD_LAYOUT.size);
  writeLayout(BIND_IOMMUFD_LAYOUT, b, { argsz: BIND_IOMMUFD_LAYOUT.size, flags: 0, iommufd });
  return b;
}

export function readDevid(b: Uint8Array): number {
  return readLayout(BIND_IOMMUFD_LAYOUT, b).outDevid;
}

export function encodeAttach(ptId: number): Uint8Array {
  const b = new Uint8Array(ATTACH_IOMMUFD_PT_LAYOUT.size);
  writeLayout(ATTACH_IOMMUFD_PT_LAYOUT, b, { argsz: ATTACH_IOMMUFD_PT_LAYOUT.size, flags: 0, ptId });
  return b;
}

export function readPtId(b: Uint8Array): number {
  return readLayout(ATTACH_IOMMUFD_PT_LAYOUT, b).ptId;
}
