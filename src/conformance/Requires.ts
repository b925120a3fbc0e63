import type { DeviceFamily } from './Check.ts';
import type { CheckContext } from './CheckContext.ts';

/** Building blocks for Check.applies: each returns true or the reason the check does not apply. */
export type Requirement = (ctx: CheckContext) => true | string;

export const deviceOpen: Requirement = (ctx) => !ctx.deviceClosed || 'the device fd was closed';

export const dmabufDevice: Requirement = (ctx) =>
  ctx.isDmabuf || `a '${ctx.family}' device exports no dma-bufs`;

/** A dma-buf device the suite can program (family known, programming layer ready). */
export const programmable: Requirement = (ctx) => {
  if (!ctx.isDmabuf) return dmabufDevice(ctx);
  return ctx.prog !== undefined || (ctx.progProblem ?? 'no programming layer');
};

export const emulatedOnly = (why: string): Requirement => (ctx) => !ctx.real || `real device: ${why}`;

export const familyIs = (...families: DeviceFamily[]): Requirement => (ctx) =>
  families.includes(ctx.family) || `only for ${families.join('/')} devices (this is '${ctx.family}')`;

export const hasFdCount: Requirement = (ctx) =>
  ctx.openFdCount !== undefined || 'no way to count open fds (emulated kernels only)';

/** All requirements, the first unmet one's reason. */
export function all(...reqs: Requirement[]): Requirement {
  return (ctx) => {
    for (const r of reqs) {
      const v = r(ctx);
      if (v !== true) return v;
    }
    return true;
  };
}
