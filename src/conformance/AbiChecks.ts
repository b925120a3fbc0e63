import { Errno } from '../base/Errno.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import {
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_QUERY_GFX_PLANE, VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_GFX_PLANE_TYPE_PROBE,
  VFIO_GFX_PLANE_TYPE_REGION, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS,
} from '../vfio/Abi.ts';
import { encodePlaneInfoRequest, readPlaneInfo } from '../vfio/PlaneInfo.ts';
import { fail, pass, type Check, type CheckResult } from './Check.ts';
import { rcName, type CheckContext } from './CheckContext.ts';
import { all, deviceOpen } from './Requires.ts';

/** An ioctl argument of `size` bytes with argsz written and `tail` bytes from `from` filled. */
function argBuffer(size: number, argsz: number, from = size, tail = 0): Uint8Array {
  const b = new Uint8Array(size);
  b.fill(tail, from);
  new DataView(b.buffer).setUint32(0, argsz, true);
  return b;
}

function expectErrno(what: string, rc: number, errno: number): CheckResult {
  return rc === -errno ? pass(`${what} → ${rcName(rc)}`) : fail(`${what} → ${rcName(rc)}, want ${rcName(-errno)}`);
}

/** Several (what, rc) pairs that must all be `-errno`. */
function expectAll(results: [string, number][], errno: number): CheckResult {
  const bad = results.filter(([, rc]) => rc !== -errno);
  if (bad.length > 0) {
    return fail(bad.map(([w, rc]) => `${w} → ${rcName(rc)}`).join('; ') + `, want ${rcName(-errno)}`);
  }
  return pass(`${results.length} × ${rcName(-errno)}: ${results.map(([w]) => w).join(', ')}`);
}

/**
 * A QUERY of the primary plane with a 64-byte buffer whose bytes 60..63 hold a sentinel; a real
 * device's B12 -ENOMEM is retried once (the B12 check reports it).
 */
function queryWithTail(ctx: CheckContext, argsz: number, sentinel: number): { rc: number; bytes: Uint8Array } {
  const once = (): { rc: number; bytes: Uint8Array } => {
    const bytes = encodePlaneInfoRequest({ argsz, flags: ctx.queryFlags, planeType: PlaneType.PRIMARY });
    bytes.fill(sentinel, 60);
    return { rc: ctx.client.ioctl(VFIO_DEVICE_QUERY_GFX_PLANE, bytes), bytes };
  };
  const r = once();
  return ctx.real && r.rc === -Errno.ENOMEM ? once() : r;
}

/** Put something on the screen first when the suite can, so QUERY writes real outputs. */
function showSomething(ctx: CheckContext): string {
  if (!ctx.prog) return 'current plane';
  const e = ctx.prog.setMode({ width: 640, height: 480 });
  return typeof e === 'number' ? `current plane (mode set failed ${rcName(e)})` : '640x480 plane';
}

const tailCheck = (argsz: number): Check => ({
  name: `query.argsz-${argsz}`,
  description: `QUERY with argsz ${argsz} succeeds and leaves bytes 60..63 of a 64-byte buffer untouched`,
  applies: deviceOpen,
  run(ctx) {
    const what = showSomething(ctx);
    const { rc, bytes } = queryWithTail(ctx, argsz, 0xc3);
    if (rc !== 0) return fail(`QUERY argsz ${argsz} → ${rcName(rc)}`);
    const tail = [...bytes.subarray(60)];
    if (tail.some((b) => b !== 0xc3)) {
      return fail(`bytes 60..63 overwritten: ${tail.map((b) => b.toString(16)).join(' ')} (sentinel c3)`);
    }
    const p = readPlaneInfo(bytes);
    if (p.argsz !== argsz || p.flags !== ctx.queryFlags || p.drmPlaneType !== PlaneType.PRIMARY) {
      return fail(`input fields changed: argsz ${p.argsz} flags ${p.flags} type ${p.drmPlaneType}`);
    }
    return pass(`${what}: rc 0, bytes 60..63 untouched`);
  },
});

const planeFlag = (ctx: CheckContext): number => ctx.queryFlags;
const otherFlag = (ctx: CheckContext): number =>
  ctx.family === 'region' ? VFIO_GFX_PLANE_TYPE_DMABUF : VFIO_GFX_PLANE_TYPE_REGION;
const queryRc = (ctx: CheckContext, flags: number): number => ctx.client.query(flags, PlaneType.PRIMARY).rc;

/** The checks that need no programming: struct sizes, argsz rules, flags, regions, IRQs. */
export const ABI_CHECKS: readonly Check[] = [
  {
    name: 'info.basic',
    description: 'GET_INFO (argsz 24): success, PCI flag, num_regions >= 9, num_irqs >= 5',
    applies: deviceOpen,
    run(ctx) {
      const r = ctx.client.getInfo(24);
      if (r.rc !== 0) return fail(`GET_INFO → ${rcName(r.rc)}`);
      const i = r.info;
      const bad: string[] = [];
      if ((i.flags & VFIO_DEVICE_FLAGS_PCI) === 0) bad.push(`flags 0x${i.flags.toString(16)} lack PCI`);
      if (i.numRegions < VFIO_PCI_NUM_REGIONS) bad.push(`num_regions ${i.numRegions} < ${VFIO_PCI_NUM_REGIONS}`);
      if (i.numIrqs < VFIO_PCI_NUM_IRQS) bad.push(`num_irqs ${i.numIrqs} < ${VFIO_PCI_NUM_IRQS}`);
      if (i.argsz < 24) bad.push(`argsz shrank to ${i.argsz}`);
      if (bad.length) return fail(bad.join('; '));
      const reset = (i.flags & VFIO_DEVICE_FLAGS_RESET) !== 0 ? ' RESET' : '';
      return pass(`flags 0x${i.flags.toString(16)} (PCI${reset}), num_regions ${i.numRegions}, num_irqs ${i.numIrqs}`);
    },
  },
  {
    name: 'info.argsz-15',
    description: 'GET_INFO with argsz 15 → -EINVAL',
    applies: deviceOpen,
    run: (ctx) => {
      const rc = ctx.client.ioctl(VFIO_DEVICE_GET_INFO, argBuffer(24, 15));
      return expectErrno('GET_INFO argsz 15', rc, Errno.EINVAL);
    },
  },
  {
    name: 'info.argsz-16',
    description: 'GET_INFO with argsz 16 fills the original 16-byte struct and writes nothing past it',
    applies: deviceOpen,
    run(ctx) {
      const b = argBuffer(32, 16, 16, 0xa5);
      const rc = ctx.client.ioctl(VFIO_DEVICE_GET_INFO, b);
      if (rc !== 0) return fail(`GET_INFO argsz 16 → ${rcName(rc)}`);
      const tail = [...b.subarray(16)];
      if (tail.some((x) => x !== 0xa5)) {
        return fail(`bytes past 16 written: ${tail.map((x) => x.toString(16)).join(' ')}`);
      }
      const v = new DataView(b.buffer);
      const full = ctx.client.getInfo(24).info;
      const got = { flags: v.getUint32(4, true), numRegions: v.getUint32(8, true), numIrqs: v.getUint32(12, true) };
      if (got.numRegions !== full.numRegions || got.numIrqs !== full.numIrqs) {
        return fail(`16-byte answer ${JSON.stringify(got)} differs from the 24-byte one`);
      }
      return pass('16 bytes filled, bytes 16..31 untouched');
    },
  },
  {
    name: 'regions.enumerate',
    description: 'every region index < num_regions answers (info or -EINVAL); regions do not overlap',
    applies: all(deviceOpen, (ctx) => ctx.info !== undefined || 'GET_INFO failed'),
    run(ctx) {
      const n = ctx.info!.numRegions;
      const found: { index: number; offset: number; size: number }[] = [];
      const refused: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = ctx.client.region(i);
        if (typeof r === 'number') {
          if (r !== -Errno.EINVAL) return fail(`region ${i} → ${rcName(r)} (want info or -EINVAL)`);
          refused.push(i);
          continue;
        }
        if (!Number.isSafeInteger(r.offset + r.size)) return fail(`region ${i} offset/size beyond 2^53`);
        if (r.size > 0) found.push({ index: i, offset: r.offset, size: r.size });
      }
      for (let a = 0; a < found.length; a++) {
        for (let b = a + 1; b < found.length; b++) {
          const x = found[a]!;
          const y = found[b]!;
          const alias = x.offset === y.offset && x.size === y.size;
          if (!alias && x.offset < y.offset + y.size && y.offset < x.offset + x.size) {
            return fail(`regions ${x.index} (${x.offset}+${x.size}) and ${y.index} (${y.offset}+${y.size}) overlap`);
          }
        }
      }
      if (found.length === 0) return fail('no region with a size');
      const list = found.map((r) => `${r.index}@0x${r.offset.toString(16)}+0x${r.size.toString(16)}`).join(' ');
      return pass(`${list}${refused.length ? `; -EINVAL: ${refused.join(',')}` : ''}`);
    },
  },
  {
    name: 'regions.argsz-31',
    description: 'GET_REGION_INFO with argsz 31 → -EINVAL',
    applies: deviceOpen,
    run(ctx) {
      const b = argBuffer(32, 31);
      new DataView(b.buffer).setUint32(8, VFIO_PCI_CONFIG_REGION_INDEX, true);
      const rc = ctx.client.ioctl(VFIO_DEVICE_GET_REGION_INFO, b);
      return expectErrno('GET_REGION_INFO(config) argsz 31', rc, Errno.EINVAL);
    },
  },
  {
    name: 'regions.unknown-index',
    description: 'GET_REGION_INFO of an index no device has (0x7fff, 0xffffffff) → -EINVAL',
    applies: deviceOpen,
    run: (ctx) => expectAll(
      [0x7fff, 0xffffffff].map((i) => [`index 0x${i.toString(16)}`, ctx.client.regionInfoRaw(i).rc]), Errno.EINVAL),
  },
  {
    name: 'ioctl.unknown',
    description: 'an ioctl the device does not know (VFIO nr 199, TCGETS) → -ENOTTY',
    applies: deviceOpen,
    run: (ctx) => expectAll([
      ['0x3bc7', ctx.client.ioctl(0x3bc7, new Uint8Array(64))],
      ['TCGETS 0x5401', ctx.client.ioctl(0x5401, new Uint8Array(64))],
    ], Errno.ENOTTY),
  },
  {
    name: 'query.argsz-59',
    description: 'QUERY with argsz 59 → -EINVAL',
    applies: deviceOpen,
    run(ctx) {
      const b = encodePlaneInfoRequest({ argsz: 59, flags: ctx.queryFlags, planeType: PlaneType.PRIMARY });
      return expectErrno('QUERY argsz 59', ctx.client.ioctl(VFIO_DEVICE_QUERY_GFX_PLANE, b), Errno.EINVAL);
    },
  },
  tailCheck(60),
  tailCheck(64),
  {
    name: 'probe.dmabuf',
    description: 'PROBE|DMABUF → 0 on a dma-buf device, -EINVAL on a region device',
    applies: deviceOpen,
    run(ctx) {
      const rc = queryRc(ctx, VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_DMABUF);
      return expectErrno('PROBE|DMABUF', rc, ctx.isDmabuf ? 0 : Errno.EINVAL);
    },
  },
  {
    name: 'probe.region',
    description: 'PROBE|REGION → 0 on a region device, -EINVAL on a dma-buf device',
    applies: deviceOpen,
    run(ctx) {
      const rc = queryRc(ctx, VFIO_GFX_PLANE_TYPE_PROBE | VFIO_GFX_PLANE_TYPE_REGION);
      return expectErrno('PROBE|REGION', rc, ctx.family === 'region' ? 0 : Errno.EINVAL);
    },
  },
  {
    name: 'flags.zero',
    description: 'QUERY with flags 0 → -EINVAL',
    applies: deviceOpen,
    run: (ctx) => expectErrno('flags 0', queryRc(ctx, 0), Errno.EINVAL),
  },
  {
    name: 'flags.probe-alone',
    description: 'QUERY with PROBE alone → -EINVAL',
    applies: deviceOpen,
    run: (ctx) => expectErrno('flags PROBE', queryRc(ctx, VFIO_GFX_PLANE_TYPE_PROBE), Errno.EINVAL),
  },
  {
    name: 'flags.other-path',
    description: 'a plain query of the path the device lacks (REGION on dma-buf, DMABUF on region) → -EINVAL',
    applies: deviceOpen,
    run: (ctx) => expectErrno(`flags ${otherFlag(ctx)}`, queryRc(ctx, otherFlag(ctx)), Errno.EINVAL),
  },
  {
    name: 'flags.all-combinations',
    description: 'every combination of bits 0..2 except the plain query and its PROBE → -EINVAL',
    applies: deviceOpen,
    run(ctx) {
      const valid = new Set([planeFlag(ctx), planeFlag(ctx) | VFIO_GFX_PLANE_TYPE_PROBE]);
      const rs: [string, number][] = [];
      for (let f = 0; f < 8; f++) if (!valid.has(f)) rs.push([`flags ${f}`, queryRc(ctx, f)]);
      return expectAll(rs, Errno.EINVAL);
    },
  },
  {
    name: 'flags.high-bits',
    description: 'the valid flags plus any bit above 2 → -EINVAL',
    applies: deviceOpen,
    run(ctx) {
      const f = planeFlag(ctx);
      const p = f | VFIO_GFX_PLANE_TYPE_PROBE;
      return expectAll([
        [`0x${(f | 8).toString(16)}`, queryRc(ctx, f | 8)],
        [`0x${(f | 0x100).toString(16)}`, queryRc(ctx, f | 0x100)],
        [`0x${((f | 0x80000000) >>> 0).toString(16)}`, queryRc(ctx, (f | 0x80000000) >>> 0)],
        [`0x${((p | 0x80000000) >>> 0).toString(16)}`, queryRc(ctx, (p | 0x80000000) >>> 0)],
      ], Errno.EINVAL);
    },
  },
];
