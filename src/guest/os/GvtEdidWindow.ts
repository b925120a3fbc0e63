/**
 * LAB EXTENSION of the gvt register map (not in GvtDevice, not in real hardware). A real i915
 * reads the monitor's EDID over GMBUS/DDC and learns of a hotplug from an interrupt; our gvt model
 * has neither, so the lab's MMIO glue (src/lab/GuestVm.ts) answers these BAR0 reads itself, from
 * the vGPU's DisplayLink. The offsets sit in a hole of the register space (after the PV-info page)
 * that the device model leaves unused. Read-only: writes there are dropped.
 */
/** 128 bytes: the EDID base block the link offers (zeros while the link is down), 32-bit reads. */
export const GVT_EDID_WINDOW = 0x7a000;
export const GVT_EDID_WINDOW_SIZE = 0x80;
/** 32-bit counter bumped on every link change (DisplayLink.generation): the guest polls it. */
export const GVT_HOTPLUG_COUNT = 0x7a080;
