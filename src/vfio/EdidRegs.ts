import { defineLayout, readLayout, writeLayout } from './StructLayout.ts';
import type { Values } from './StructLayout.ts';

/**
 * struct vfio_region_gfx_edid: the 24 bytes at the start of the EDID region
 * (VFIO_REGION_TYPE_GFX / VFIO_REGION_SUBTYPE_GFX_EDID). The blob itself lives at `edid_offset`
 * inside the same region. Update protocol: link down, write blob and edid_size, link up.
 */
export const EDID_REGS_SIZE = 24;

export const EDID_REGS_LAYOUT = defineLayout('struct vfio_region_gfx_edid', EDID_REGS_SIZE, {
  edidOffset: { offset: 0, type: 'u32', c: 'edid_offset' }, // RO
  edidMaxSize: { offset: 4, type: 'u32', c: 'edid_max_size' }, // RO
  edidSize: { offset: 8, type: 'u32', c: 'edid_size' }, // RW
  maxXres: { offset: 12, type: 'u32', c: 'max_xres' }, // RO, 0 = unlimited
  maxYres: { offset: 16, type: 'u32', c: 'max_yres' }, // RO, 0 = unlimited
  linkState: { offset: 20, type: 'u32', c: 'link_state' }, // RW: VFIO_DEVICE_GFX_LINK_STATE_*
});

export type EdidRegs = Values<typeof EDID_REGS_LAYOUT.fields>;
export type EdidReg = keyof EdidRegs;

/** The registers userspace may write; the rest are read-only. */
export const EDID_REGS_WRITABLE: ReadonlySet<EdidReg> = new Set<EdidReg>(['edidSize', 'linkState']);

export function readEdidRegs(bytes: Uint8Array): EdidRegs {
  return readLayout(EDID_REGS_LAYOUT, bytes);
}

/** Write the given registers (those that fit in `bytes`); returns how many were written. */
export function writeEdidRegs(bytes: Uint8Array, regs: Partial<EdidRegs>): number {
  return writeLayout(EDID_REGS_LAYOUT, bytes, regs);
}

const BY_OFFSET: ReadonlyMap<number, EdidReg> = new Map(
  Object.entries(EDID_REGS_LAYOUT.fields).map(([name, f]) => [f.offset, name as EdidReg]),
);

/** The register at a region offset (device models accept only aligned 4-byte accesses). */
export function edidRegAt(offset: number): EdidReg | undefined {
  return BY_OFFSET.get(offset);
}
