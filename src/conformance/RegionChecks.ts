import { Errno } from '../base/Errno.ts';
import { DRM_FORMAT, formatName } from '../kms/Fourcc.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ } from '../vfio/Abi.ts';
import { fail, pass, quirk, type Check } from './Check.ts';
import { describePlane, rcName, type CheckContext } from './CheckContext.ts';
import type { QueryResult } from './DeviceClient.ts';
import { DISPLAY_REGION } from './RegionProgrammer.ts';
import { all, deviceOpen, familyIs } from './Requires.ts';

const regionDevice = all(deviceOpen, familyIs('region'));
const regionReady = all(regionDevice,
  (ctx) => ctx.region?.fb !== undefined || (ctx.progProblem ?? 'no display region'));
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** The outputs that identify the framebuffer (everything but the echoed inputs). */
function outputs(q: QueryResult): string {
  const p = q.info;
  return `${p.drmFormat}/${p.drmFormatMod}/${p.width}x${p.height}/${p.stride}/${p.size}/${p.regionIndex}`;
}

export const REGION_CHECKS: readonly Check[] = [
  {
    name: 'region.display-region',
    description: 'region 16 answers GET_REGION_INFO (readable, mmappable) and lies inside num_regions',
    applies: regionDevice,
    run(ctx) {
      const r = ctx.client.region(DISPLAY_REGION);
      if (typeof r === 'number') return fail(`GET_REGION_INFO(16) → ${rcName(r)}`);
      const need = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP;
      if ((r.flags & need) !== need || r.size === 0) {
        return fail(`region 16: flags 0x${r.flags.toString(16)} size ${r.size}`);
      }
      const n = ctx.info?.numRegions ?? 0;
      if (n <= DISPLAY_REGION) {
        const text = `region 16 exists but num_regions is ${n}`;
        return ctx.real ? quirk('MDPY-NUM-REGIONS', text) : fail(text);
      }
      return pass(`region 16 at 0x${r.offset.toString(16)}, size ${r.size}, num_regions ${n}`);
    },
  },
  {
    name: 'region.query',
    description: 'REGION query: region_index 16, XRGB8888, stride = width × 4, size = region size >= stride × height',
    applies: regionReady,
    run(ctx) {
      const q = ctx.query();
      if (q.rc !== 0) return fail(`QUERY → ${rcName(q.rc)}`);
      const p = q.info;
      const size = ctx.region!.fb!.size;
      const bad: string[] = [];
      if (p.regionIndex !== DISPLAY_REGION) bad.push(`region_index ${p.regionIndex}`);
      if (p.drmFormat !== DRM_FORMAT.XRGB8888) bad.push(`format ${formatName(p.drmFormat)}`);
      if (p.width === 0 || p.height === 0) bad.push(`size ${p.width}x${p.height}`);
      if (p.stride !== p.width * 4) bad.push(`stride ${p.stride} != width × 4`);
      if (p.size !== size) bad.push(`size ${p.size} != region size ${size}`);
      if (p.size < p.stride * p.height) bad.push(`size ${p.size} < stride × height`);
      if (p.drmFormatMod !== 0n) bad.push(`modifier 0x${p.drmFormatMod.toString(16)}`);
      if (bad.length) return fail(bad.join('; '));
      return pass(`${describePlane(p)} region ${p.regionIndex}`);
    },
  },
  {
    name: 'region.plane-type-ignored',
    description: 'any plane type (0, 1, 2, 3) returns the framebuffer',
    applies: regionReady,
    run(ctx) {
      const ref = ctx.query(PlaneType.PRIMARY);
      if (ref.rc !== 0) return fail(`PRIMARY → ${rcName(ref.rc)}`);
      for (const t of [PlaneType.OVERLAY, PlaneType.CURSOR, 3]) {
        const q = ctx.query(t);
        if (q.rc !== 0 || outputs(q) !== outputs(ref)) {
          return fail(`type ${t} → ${rcName(q.rc)} ${describePlane(q.info)}`);
        }
      }
      ctx.behaviour['invalid-plane-type'] = 'ignored (the framebuffer)';
      return pass('types 0..3 → the framebuffer');
    },
  },
  {
    name: 'region.get-enotty',
    description: 'GET_GFX_DMABUF on a region device → -ENOTTY',
    applies: regionDevice,
    run(ctx) {
      const fd = ctx.client.getDmabuf(1);
      if (fd >= 0) {
        ctx.sys.close(fd);
        return fail(`GET gave fd ${fd}`);
      }
      ctx.behaviour['get-unknown-id'] = rcName(fd);
      return fd === -Errno.ENOTTY ? pass('-ENOTTY') : fail(`GET → ${rcName(fd)}, want -ENOTTY`);
    },
  },
  {
    name: 'region.pixels',
    description: 'mmap of region 16 and pread/pwrite at a non-zero offset see the same bytes',
    applies: all(regionReady, (ctx) => ctx.region!.mapping !== undefined || 'region 16 cannot be mapped'),
    run(ctx) {
      const reg = ctx.region!;
      const at = 8192 + 4;
      const v = 0x12c0ffee;
      for (const o of [0, at, at + 4]) reg.writePixel(o, 0);
      if (reg.writePixel(at, v) < 0) return fail('writing through the mapping failed');
      const back = ctx.client.read32(reg.index, at);
      const wrote = ctx.client.write32(reg.index, at + 4, v + 1);
      if (wrote < 0) return fail(`pwrite → ${rcName(wrote)}`);
      const seen = reg.readMapped(at + 4);
      if (back === v && seen === v + 1) return pass(`pread and pwrite at ${at} agree with the mapping`);
      if (ctx.real && reg.readMapped(0) === v + 1) {
        return quirk('MDPY-PRW-OFFSET', `pwrite at ${at + 4} landed at offset 0 (offset ignored)`);
      }
      return fail(`pread at ${at} → ${back < 0 ? rcName(back) : hex(back)} (mapped ${hex(v)}); ` +
        `pwrite at ${at + 4} shows ${seen === undefined ? 'nothing' : hex(seen)} in the mapping`);
    },
  },
  {
    name: 'region.reset',
    description: 'VFIO_DEVICE_RESET → 0; the framebuffer is still reported (a region display is never disabled)',
    applies: regionReady,
    run(ctx: CheckContext) {
      const before = ctx.query();
      const rc = ctx.client.reset();
      if (rc !== 0) return fail(`RESET → ${rcName(rc)}`);
      const after = ctx.query();
      if (after.rc !== 0 || outputs(after) !== outputs(before)) {
        return fail(`after reset: ${rcName(after.rc)} ${describePlane(after.info)}`);
      }
      return pass('framebuffer unchanged');
    },
  },
];
