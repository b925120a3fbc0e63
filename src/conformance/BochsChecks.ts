import { Errno } from '../base/Errno.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { VFIO_PCI_BAR0_REGION_INDEX } from '../vfio/Abi.ts';
import { DISPI, DISPI_ID5 } from '../vgpu/bochs/BochsRegisters.ts';
import { fail, pass, quirk, type Check } from './Check.ts';
import { describePlane, planeMismatch, rcName } from './CheckContext.ts';
import { dmabufReady, MODE_A } from './DmabufChecks.ts';
import { all, familyIs } from './Requires.ts';

const bochsReady = all(familyIs('bochs'), dmabufReady);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

export const BOCHS_CHECKS: readonly Check[] = [
  {
    name: 'bochs.dispi-id',
    description: 'DISPI ID reads 0xb0c5 through a 2-byte pread of BAR2',
    applies: bochsReady,
    run(ctx) {
      const id = ctx.bochs!.readDispi(DISPI.ID);
      return id === DISPI_ID5 ? pass('0xb0c5') : fail(`ID ${id < 0 ? rcName(id) : hex(id)}, want 0xb0c5`);
    },
  },
  {
    name: 'bochs.vram-size',
    description: 'VIDEO_MEMORY_64K × 64 KiB equals the BAR0 region size',
    applies: bochsReady,
    run(ctx) {
      const b = ctx.bochs!;
      const v = b.readDispi(DISPI.VIDEO_MEMORY_64K);
      if (v < 0) return fail(`VIDEO_MEMORY_64K → ${rcName(v)}`);
      const size = b.vram!.size;
      return v * 65536 === size ? pass(`${v} × 64 KiB = ${size}`) : fail(`${v} × 64 KiB != BAR0 size ${size}`);
    },
  },
  {
    name: 'bochs.virt-width',
    description: 'VIRT_WIDTH wider than XRES: stride = VIRT_WIDTH × 4, size = stride × height',
    applies: bochsReady,
    run(ctx) {
      const s = ctx.show({ width: 640, height: 480, virtWidth: 1024 });
      if (typeof s === 'string') return fail(s);
      const bad = planeMismatch(s.q.info, s.expected);
      return bad ? fail(bad) : pass(describePlane(s.q.info));
    },
  },
  {
    name: 'bochs.invalid-mode',
    description: 'BPP 16 or XRES below 64: the plane is reported empty (success)',
    applies: bochsReady,
    run(ctx) {
      const b = ctx.bochs!;
      const seen: string[] = [];
      for (const [what, index, value] of [['BPP 16', DISPI.BPP, 16], ['XRES 32', DISPI.XRES, 32]] as const) {
        const e = b.setMode(MODE_A);
        if (typeof e === 'number') return fail(`mode: ${rcName(e)}`);
        const rc = b.dispi(index, value);
        if (rc < 0) return fail(`${what}: ${rcName(rc)}`);
        const q = ctx.query();
        if (q.rc !== 0 || q.info.drmFormat !== 0 || q.info.dmabufId !== 0) {
          return fail(`${what}: ${rcName(q.rc)} ${describePlane(q.info)}, want an empty plane`);
        }
        seen.push(what);
      }
      return pass(`${seen.join(', ')} → empty plane`);
    },
  },
  {
    name: 'bochs.unaligned-pan',
    description: 'a pan to a non-page-aligned offset: QUERY succeeds with an id, GET → -EINVAL',
    applies: bochsReady,
    run(ctx) {
      const s = ctx.show({ ...MODE_A, xOffset: 1 });
      if (typeof s === 'string') return fail(s);
      if (s.q.info.dmabufId === 0) return fail(`unaligned pan: ${describePlane(s.q.info)}`);
      const fd = ctx.getDmabuf(s.q.info.dmabufId);
      if (fd >= 0) return fail(`GET of an unaligned buffer gave fd ${fd}`);
      if (fd !== -Errno.EINVAL) return fail(`GET → ${rcName(fd)}, want -EINVAL`);
      return pass(`id ${s.q.info.dmabufId}, GET → -EINVAL`);
    },
  },
  {
    name: 'bochs.vram-pread-pwrite',
    description: 'pwrite/pread of BAR0 hit the offset asked for (checked against the mmap of BAR0)',
    applies: all(bochsReady, (ctx) => ctx.bochs!.mapped || 'BAR0 cannot be mapped'),
    run(ctx) {
      const b = ctx.bochs!;
      const off = 5 * 4096 + 16;
      const v = 0x9a9e0001;
      for (const o of [off, off + 8192]) b.writeVram32(o, 0);
      const rc = ctx.client.write32(VFIO_PCI_BAR0_REGION_INDEX, off, v);
      if (rc < 0) return fail(`pwrite → ${rcName(rc)}`);
      const seen = b.readVramMapped(off);
      if (seen !== v) {
        if (ctx.real && b.readVramMapped(off + 8192) === v) {
          return quirk('MBOCHS-PRW-OFFSET', `pwrite at BAR0+${off} landed at +${off + 8192}`);
        }
        return fail(`pwrite at BAR0+${off}: the mapping shows ${seen === undefined ? 'nothing' : hex(seen)}`);
      }
      const w = 0x9a9e0002;
      b.writeVram32(off + 4, w);
      const back = ctx.client.read32(VFIO_PCI_BAR0_REGION_INDEX, off + 4);
      if (back !== w) {
        return fail(`pread at BAR0+${off + 4} → ${back < 0 ? rcName(back) : hex(back)}, mapped value ${hex(w)}`);
      }
      return pass(`pwrite and pread at BAR0+${off} agree with the mapping`);
    },
  },
  {
    name: 'cursor.bochs-empty',
    description: 'the cursor query succeeds with an empty plane (mbochs has no cursor)',
    applies: bochsReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const q = ctx.client.query(ctx.queryFlags, PlaneType.CURSOR, { fill: 0x5a });
      if (q.rc !== 0) return fail(`CURSOR → ${rcName(q.rc)}`);
      const p = q.info;
      if (p.drmFormat !== 0 || p.size !== 0 || p.width !== 0 || p.height !== 0 || p.dmabufId !== 0) {
        return fail(`cursor: ${describePlane(p)}`);
      }
      ctx.behaviour['cursor-hotspot'] = `no cursor plane (hotspot ${hex(p.xHot)},${hex(p.yHot)})`;
      return pass('empty plane');
    },
  },
];
