import { Errno } from '../../base/Errno.ts';
import type { Ggtt } from '../../gpu/Ggtt.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';

/**
 * The checks between a decoded surface address and exportable guest pages, in GVT's order
 * (fb_decoder then dmabuf.c, spec §2.3 and §3.2):
 *  1. base inside the vGPU's aperture or hidden slice (`vgpu_gmadr_is_valid`) else -EINVAL;
 *  2. base translates through the GGTT (`intel_vgpu_gma_to_gpa`)              else -EINVAL;
 *  3. size != 0                                                             else -EINVAL;
 *  4. base 4 KiB aligned                                                    else -EFAULT;
 *  5. `intel_gvt_ggtt_validate_range(base, size)` (bug B1)                   else -EFAULT;
 *  6. every page of the range maps to a page of THIS VM's memory            else -EINVAL.
 * Step 6 is what GVT defers to map time (pinning, bug B5); we also do it at decode so a plane
 * that names an unmapped or foreign page is never reported. Returns the guest pages in order.
 */
export function mapSurface(ggtt: Ggtt, vmId: number, base: number, size: number): Uint32Array | number {
  if (!ggtt.isValidGma(vmId, base)) return -Errno.EINVAL;
  if (ggtt.translate(vmId, base) < 0) return -Errno.EINVAL;
  if (size === 0) return -Errno.EINVAL;
  // Callers mask the base to 4 KiB already, so this cannot fire today; kept for the GMA contract.
  if (base % PAGE_SIZE !== 0) return -Errno.EFAULT;
  if (!ggtt.validateRange(vmId, base, size)) return -Errno.EFAULT;
  return ggtt.translateRange(vmId, base, size) ?? -Errno.EINVAL;
}
