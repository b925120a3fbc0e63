// A cheap benchmark guest: two (or three) linear XRGB8888 buffers, each vblank a page flip. It
// maps its buffers through its GTT window and programs pipe A, then only writes PLANE_SURF. Options
// (driverOptions): width, height, gma (aperture base), page (first guest page), buffers (2 or 3),
// every (flip on every vblank when 1; else on a seeded random half of them), seed.
import type { GuestProgramContext } from '../../guest/host/GuestRuntime.ts';
import {
  GTT_BASE, PIPECONF, PIPECONF_ENABLE, PIPESRC, PLANE_CTL, PLANE_FORMAT, PLANE_STRIDE, PLANE_SURF,
  gttPte, pipesrcValue, planeCtlValue,
} from '../../vgpu/gvt/GvtRegisters.ts';

const PAGE = 4096;

export function main({ port, data }: GuestProgramContext): void {
  const o = data.driverOptions;
  const width = Number(o.width ?? 64);
  const height = Number(o.height ?? 32);
  const gma0 = Number(o.gma ?? 0);
  const page0 = Number(o.page ?? 256);
  const count = Number(o.buffers ?? 2);
  const every = Number(o.every ?? 1) === 1;
  let rand = (Number(o.seed ?? 1) >>> 0) || 1;
  const stride = Math.ceil((width * 4) / 64) * 64;
  const pages = Math.ceil((stride * height) / PAGE);
  const gmas: number[] = [];
  for (let b = 0; b < count; b++) {
    const gma = gma0 + b * pages * PAGE;
    gmas.push(gma);
    for (let i = 0; i < pages; i++) port.write64(GTT_BASE + 8 * (gma / PAGE + i), gttPte(page0 + b * pages + i));
  }
  port.write(PIPESRC(0), 4, pipesrcValue(width, height));
  port.write(PLANE_CTL(0), 4, planeCtlValue({ format: PLANE_FORMAT.XRGB_8888 }));
  port.write(PLANE_STRIDE(0), 4, stride / 64);
  port.write(PLANE_SURF(0), 4, gmas[0]!);
  port.write(PIPECONF(0), 4, PIPECONF_ENABLE);
  let front = 0;
  let lastVb = port.vblankSeq;
  for (;;) {
    const bell = port.bell;
    if (port.stopRequested) break;
    const vb = port.vblankSeq;
    if (vb !== lastVb) {
      lastVb = vb;
      let flip = every;
      if (!every) {
        // xorshift32: the same flip pattern for every policy that sees this seed.
        rand ^= rand << 13; rand >>>= 0;
        rand ^= rand >>> 17;
        rand ^= rand << 5; rand >>>= 0;
        flip = (rand & 1) === 1;
      }
      if (flip) {
        front = (front + 1) % count;
        port.write(PLANE_SURF(0), 4, gmas[front]!);
      }
      port.ackVblank(vb);
    }
    port.heartbeat();
    port.waitBell(bell, 100);
  }
}
