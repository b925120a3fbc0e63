/**
 * VFIO UAPI constants (include/uapi/linux/vfio.h) and the one dma-buf ioctl we use
 * (include/uapi/linux/dma-buf.h). Every numeric export here, except the names listed in
 * ABI_EXTENSIONS, is checked against the machine's headers by Abi.test.ts.
 *
 * All VFIO ioctls are _IO(VFIO_TYPE, VFIO_BASE + n): no size or direction bits; extensibility
 * comes from each struct's leading `argsz`. So a request number is (0x3B << 8) | (100 + n).
 */

export const VFIO_API_VERSION = 0;
export const VFIO_TYPE = 0x3b; // ';'
export const VFIO_BASE = 100;

// Container and group ioctls.
export const VFIO_GET_API_VERSION = 0x3b64; // VFIO_BASE + 0
export const VFIO_CHECK_EXTENSION = 0x3b65; // + 1
export const VFIO_SET_IOMMU = 0x3b66; // + 2
export const VFIO_GROUP_GET_STATUS = 0x3b67; // + 3
export const VFIO_GROUP_SET_CONTAINER = 0x3b68; // + 4
export const VFIO_GROUP_UNSET_CONTAINER = 0x3b69; // + 5
export const VFIO_GROUP_GET_DEVICE_FD = 0x3b6a; // + 6

// Device ioctls.
export const VFIO_DEVICE_GET_INFO = 0x3b6b; // + 7, struct vfio_device_info
export const VFIO_DEVICE_GET_REGION_INFO = 0x3b6c; // + 8, struct vfio_region_info
export const VFIO_DEVICE_GET_IRQ_INFO = 0x3b6d; // + 9, struct vfio_irq_info
export const VFIO_DEVICE_SET_IRQS = 0x3b6e; // + 10, struct vfio_irq_set
export const VFIO_DEVICE_RESET = 0x3b6f; // + 11, no argument
export const VFIO_DEVICE_QUERY_GFX_PLANE = 0x3b72; // + 14, struct vfio_device_gfx_plane_info
export const VFIO_DEVICE_GET_GFX_DMABUF = 0x3b73; // + 15, __u32 dmabuf_id; returns a new fd

// IOMMU types (VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU).
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_NOIOMMU_IOMMU = 8;

// struct vfio_group_status flags.
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

// struct vfio_device_gfx_plane_info flags: PROBE|DMABUF and PROBE|REGION probe, DMABUF or REGION
// query; anything else is -EINVAL.
export const VFIO_GFX_PLANE_TYPE_PROBE = 1 << 0;
export const VFIO_GFX_PLANE_TYPE_DMABUF = 1 << 1;
export const VFIO_GFX_PLANE_TYPE_REGION = 1 << 2;

// struct vfio_device_info flags.
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;

// struct vfio_region_info flags.
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

// Region info capabilities (struct vfio_info_cap_header.id).
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2; // version 1: struct vfio_region_info_cap_type
export const VFIO_REGION_INFO_CAP_TYPE_VERSION = 1; // (not a header macro; see ABI_EXTENSIONS)

// Region types, and the EDID sub-type (struct vfio_region_gfx_edid at the region's start).
export const VFIO_REGION_TYPE_GFX = 1;
export const VFIO_REGION_SUBTYPE_GFX_EDID = 1;
export const VFIO_DEVICE_GFX_LINK_STATE_UP = 1;
export const VFIO_DEVICE_GFX_LINK_STATE_DOWN = 2;

// vfio-pci fixed region indexes (an enum in the header). Device-specific regions follow
// VFIO_PCI_NUM_REGIONS (mbochs puts its EDID region at index 9).
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR1_REGION_INDEX = 1;
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
export const VFIO_PCI_BAR3_REGION_INDEX = 3;
export const VFIO_PCI_BAR4_REGION_INDEX = 4;
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;

// vfio-pci IRQ indexes (an enum in the header).
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

// struct vfio_irq_info flags.
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

// struct vfio_irq_set flags: exactly one DATA_* and one ACTION_*.
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1; // data: u8 per IRQ
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2; // data: s32 fd per IRQ (-1 = de-assign)
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const VFIO_IRQ_SET_DATA_TYPE_MASK = 0x07;
export const VFIO_IRQ_SET_ACTION_TYPE_MASK = 0x38;

// dma-buf: DMA_BUF_IOCTL_SYNC = _IOW('b', 0, struct dma_buf_sync { __u64 flags; }).
export const DMA_BUF_IOCTL_SYNC = 0x40086200;
export const DMA_BUF_SYNC_READ = 1 << 0;
export const DMA_BUF_SYNC_WRITE = 2 << 0;
export const DMA_BUF_SYNC_RW = 3;
export const DMA_BUF_SYNC_START = 0 << 2;
export const DMA_BUF_SYNC_END = 1 << 2;

/**
 * OUR EXTENSION (not in any kernel): the display event IRQ.
 *
 * The 2017 dma-buf design discussion wanted userspace told when the guest flips or changes its
 * display; the 2019 notification series (flip, then vblank, then "display refresh" events through
 * VFIO IRQs) stalled and was never merged, so QEMU still polls VFIO_DEVICE_QUERY_GFX_PLANE on
 * every refresh. We add the notification the way vfio-pci adds ERR and REQ: one more IRQ index,
 * with plain semantics (no value encoding, no vblank ticks).
 *
 * - Index VFIO_PCI_DISPLAY_IRQ_INDEX = 5, i.e. the first index after VFIO_PCI_NUM_IRQS; a device
 *   offering it reports num_irqs = 6 in VFIO_DEVICE_GET_INFO.
 * - VFIO_DEVICE_GET_IRQ_INFO(5) reports count 1, flags EVENTFD | NORESIZE (not maskable).
 * - Armed with VFIO_DEVICE_SET_IRQS(index 5, start 0, count 1, DATA_EVENTFD | ACTION_TRIGGER,
 *   data = the eventfd); fd -1 (or DATA_NONE with count 0) disarms it.
 * - Signalled on latched flips, plane enable/disable and mode changes. It is only a hint: the
 *   client re-queries the planes; several events may coalesce into one eventfd read.
 * A stock client never asks for index 5 and keeps polling, so the extension is invisible to it.
 */
export const VFIO_PCI_DISPLAY_IRQ_INDEX = VFIO_PCI_NUM_IRQS;
export const VFIO_PCI_DISPLAY_IRQ_COUNT = 1;
export const VFIO_PCI_DISPLAY_IRQ_FLAGS = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;

/** Numeric exports above that no kernel header defines (the ABI test skips them, by name). */
export const ABI_EXTENSIONS: readonly string[] = [
  'VFIO_PCI_DISPLAY_IRQ_INDEX',
  'VFIO_PCI_DISPLAY_IRQ_COUNT',
  'VFIO_PCI_DISPLAY_IRQ_FLAGS',
  'VFIO_REGION_INFO_CAP_TYPE_VERSION',
];

const IOCTL_NAMES: ReadonlyMap<number, string> = new Map([
  [VFIO_GET_API_VERSION, 'VFIO_GET_API_VERSION'],
  [VFIO_CHECK_EXTENSION, 'VFIO_CHECK_EXTENSION'],
  [VFIO_SET_IOMMU, 'VFIO_SET_IOMMU'],
  [VFIO_GROUP_GET_STATUS, 'VFIO_GROUP_GET_STATUS'],
  [VFIO_GROUP_SET_CONTAINER, 'VFIO_GROUP_SET_CONTAINER'],
  [VFIO_GROUP_UNSET_CONTAINER, 'VFIO_GROUP_UNSET_CONTAINER'],
  [VFIO_GROUP_GET_DEVICE_FD, 'VFIO_GROUP_GET_DEVICE_FD'],
  [VFIO_DEVICE_GET_INFO, 'VFIO_DEVICE_GET_INFO'],
  [VFIO_DEVICE_GET_REGION_INFO, 'VFIO_DEVICE_GET_REGION_INFO'],
  [VFIO_DEVICE_GET_IRQ_INFO, 'VFIO_DEVICE_GET_IRQ_INFO'],
  [VFIO_DEVICE_SET_IRQS, 'VFIO_DEVICE_SET_IRQS'],
  [VFIO_DEVICE_RESET, 'VFIO_DEVICE_RESET'],
  [VFIO_DEVICE_QUERY_GFX_PLANE, 'VFIO_DEVICE_QUERY_GFX_PLANE'],
  [VFIO_DEVICE_GET_GFX_DMABUF, 'VFIO_DEVICE_GET_GFX_DMABUF'],
  [DMA_BUF_IOCTL_SYNC, 'DMA_BUF_IOCTL_SYNC'],
]);

/** A request number's name for logs and traces; unknown ones print as hex. */
export function ioctlName(request: number): string {
  return IOCTL_NAMES.get(request >>> 0) ?? `ioctl#0x${(request >>> 0).toString(16)}`;
}
