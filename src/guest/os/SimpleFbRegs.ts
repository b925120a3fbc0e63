/**
 * Register map of "simplefb", a minimal plane-based display device this project uses to run the
 * guest OS end to end before (and besides) the gvt and bochs models: 32-bit registers, buffers
 * described by a page table in guest memory (an array of u32 guest page numbers), a primary plane
 * whose programming latches at vblank on COMMIT, and a cursor plane that updates at once.
 */
export const enum SfbReg {
  ID = 0x000,
  /** Bumped by the device whenever the EDID changes (hotplug). */
  HOTPLUG_SEQ = 0x004,
  PRI_CTL = 0x010,
  PRI_FORMAT = 0x014,
  PRI_MOD_LO = 0x018,
  PRI_MOD_HI = 0x01c,
  PRI_WIDTH = 0x020,
  PRI_HEIGHT = 0x024,
  PRI_STRIDE = 0x028,
  /** Guest physical byte address of the page table. */
  PRI_PT_ADDR = 0x02c,
  PRI_PT_COUNT = 0x030,
  /** Write 1: the primary registers above latch at the next vblank. */
  PRI_COMMIT = 0x034,
  CUR_CTL = 0x040,
  CUR_PT_ADDR = 0x044,
  /** x in bits 15:0, y in bits 31:16, both signed 16-bit. */
  CUR_POS = 0x048,
  /** x in bits 15:0, y in bits 31:16; 0xFFFFFFFF = unknown. */
  CUR_HOT = 0x04c,
  /** Latched commits so far (RO). */
  FLIPS = 0x050,
  VBLANKS = 0x054,
  /** 128-byte EDID block, read as 32-bit words. */
  EDID = 0x100,
}

export const SFB_ID = 0x53464231; // 'SFB1'
export const SFB_MMIO_SIZE = 0x200;
export const SFB_CURSOR_SIZE = 64;
