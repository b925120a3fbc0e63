import { Errno } from '../base/Errno.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { PROT_READ, PROT_WRITE, type Mapping } from '../vfio/Sys.ts';
import { fail, pass, quirk, type Check, type CheckResult } from './Check.ts';
import { describePlane, planeMismatch, rcName, type CheckContext } from './CheckContext.ts';
import type { ModeRequest } from './DisplayProgrammer.ts';
import { mappingReadU32 } from './MappingBytes.ts';
import { all, deviceOpen, dmabufDevice, programmable } from './Requires.ts';

/** Modes whose buffers are whole pages (real mbochs cannot map the tail of a partial page). */
export const MODE_A: ModeRequest = { width: 640, height: 480 };
export const MODE_B: ModeRequest = { width: 1024, height: 768 };
/** Used once, by the B12 check: a mode the device has not seen in this session. */
export const MODE_FRESH: ModeRequest = { width: 576, height: 432 };

export const dmabufReady = all(deviceOpen, programmable);

/** A failed dma-buf mmap: mbochs' read-only export on a real device is a quirk, else a failure. */
export function mmapFailure(ctx: CheckContext, rc: number, what: string): CheckResult {
  if (ctx.real && ctx.family === 'bochs' && rc === -Errno.EINVAL) {
    return quirk('MBOCHS-RO-MMAP', `${what}: mmap → -EINVAL (mbochs exports read-only dma-bufs)`);
  }
  return fail(`${what}: mmap → ${rcName(rc)}`);
}

/** Which of `want` (offset → value) the mapping does not show ('' when all match). */
export function pixelMismatch(map: Mapping, want: readonly [number, number][]): string {
  return want
    .map(([off, v]) => [off, v, mappingReadU32(map, off)] as const)
    .filter(([, v, got]) => got !== v)
    .map(([off, v, got]) => `@${off}: ${got === undefined ? 'unmapped' : hex(got)} != ${hex(v)}`)
    .join(', ');
}

/** Write sentinels into buffer `buffer` of the current mode; '' or the failure. */
export function writeSentinels(ctx: CheckContext, buffer: 0 | 1, want: readonly [number, number][]): string {
  for (const [off, v] of want) {
    const rc = ctx.prog!.writePixel(buffer, off, v);
    if (rc < 0) return `writing a pixel at ${off}: ${rcName(rc)}`;
  }
  return '';
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

const isEmpty = (p: { drmFormat: number; size: number; width: number; height: number; dmabufId: number }): boolean =>
  p.drmFormat === 0 && p.size === 0 && p.width === 0 && p.height === 0 && p.dmabufId === 0;

export const DMABUF_CHECKS: readonly Check[] = [
  {
    name: 'plane.disabled',
    description: 'a disabled primary plane: success with format, size, width, height, dmabuf_id all 0 ' +
      '(written, not left as the caller filled them)',
    applies: dmabufReady,
    run(ctx) {
      const rc0 = ctx.prog!.disable();
      if (rc0 < 0) return fail(`disabling: ${rcName(rc0)}`);
      const q = ctx.client.query(ctx.queryFlags, PlaneType.PRIMARY, { fill: 0x5a });
      if (q.rc !== 0) return fail(`QUERY → ${rcName(q.rc)}, want 0`);
      if (isEmpty(q.info)) return pass('rc 0, empty plane');
      if (ctx.real && ctx.family === 'gvt' && q.info.drmFormat === 0x5a5a5a5a) {
        return quirk('GVT-UNTOUCHED', 'rc 0 but outputs left as the caller wrote them');
      }
      return fail(`rc 0 but ${describePlane(q.info)}`);
    },
  },
  {
    name: 'plane.mode',
    description: 'a mode set through the device shows as the exact format, modifier, width, height, stride and size',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const bad = planeMismatch(s.q.info, s.expected);
      if (bad) return fail(bad);
      ctx.behaviour['primary-hotspot'] = `0x${s.q.info.xHot.toString(16)},0x${s.q.info.yHot.toString(16)}`;
      return pass(describePlane(s.q.info));
    },
  },
  {
    name: 'plane.first-query-after-mode-change',
    description: 'the first QUERY after a new mode succeeds (mbochs B12: -ENOMEM)',
    applies: dmabufReady,
    run(ctx) {
      const e = ctx.prog!.setMode(MODE_FRESH);
      if (typeof e === 'number') return fail(`setting 576x432: ${rcName(e)}`);
      const q = ctx.client.query(ctx.queryFlags, PlaneType.PRIMARY);
      if (q.rc === 0) {
        return q.info.dmabufId !== 0 ? pass(`first query: ${describePlane(q.info)}`) : fail('first query: id 0');
      }
      if (q.rc === -Errno.ENOMEM) {
        const again = ctx.client.query(ctx.queryFlags, PlaneType.PRIMARY);
        if (again.rc === 0 && again.info.dmabufId !== 0) {
          return quirk('B12', `first query after a mode change → -ENOMEM, the retry gave id ${again.info.dmabufId}`);
        }
        return fail(`first query → -ENOMEM and the retry → ${rcName(again.rc)}`);
      }
      return fail(`first query → ${rcName(q.rc)}`);
    },
  },
  {
    name: 'plane.dmabuf-id',
    description: 'a shown plane has a non-zero dmabuf_id',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      return s.q.info.dmabufId !== 0 ? pass(`id ${s.q.info.dmabufId}`) : fail('dmabuf_id 0 for a shown plane');
    },
  },
  {
    name: 'plane.same-id',
    description: 'the same mode gives the same id: query twice, and again while its dma-buf is open',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const id = s.q.info.dmabufId;
      const second = ctx.query();
      if (second.rc !== 0 || second.info.dmabufId !== id) {
        return fail(`second query: ${rcName(second.rc)} id ${second.info.dmabufId}, want ${id}`);
      }
      const fd = ctx.getDmabuf(id);
      if (fd < 0) return fail(`GET ${id} → ${rcName(fd)}`);
      const third = ctx.query();
      if (third.rc !== 0 || third.info.dmabufId !== id) {
        return fail(`query with the dma-buf open: id ${third.info.dmabufId}, want ${id}`);
      }
      return pass(`id ${id} three times`);
    },
  },
  {
    name: 'dmabuf.get',
    description: 'GET returns an fd >= 0 with close-on-exec set',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const fd = ctx.getDmabuf(s.q.info.dmabufId);
      if (fd < 0) return fail(`GET ${s.q.info.dmabufId} → ${rcName(fd)}`);
      const cloexec = ctx.sys.getCloexec(fd);
      if (cloexec === true) return pass(`fd ${fd}, FD_CLOEXEC set`);
      if (cloexec === false && ctx.real && ctx.family === 'bochs') {
        return quirk('MBOCHS-CLOEXEC', `fd ${fd} without FD_CLOEXEC (mbochs: dma_buf_fd(buf, 0))`);
      }
      return fail(`fd ${fd}: FD_CLOEXEC ${String(cloexec)}`);
    },
  },
  {
    name: 'dmabuf.mmap-pixels',
    description: 'mmap PROT_READ of the dma-buf shows the pixels written through the device, ' +
      'also ones written after mapping',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const size = s.q.info.size;
      const want: [number, number][] = [[0, 0xc0ffee01], [4096, 0xc0ffee02], [size - 4, 0xc0ffee03]];
      const err = writeSentinels(ctx, 0, want);
      if (err) return fail(err);
      const fd = ctx.getDmabuf(s.q.info.dmabufId);
      if (fd < 0) return fail(`GET → ${rcName(fd)}`);
      const map = ctx.mapDmabuf(fd, size);
      if (typeof map === 'number') return mmapFailure(ctx, map, 'dma-buf');
      try {
        const bad = pixelMismatch(map, want);
        if (bad) return fail(`mapping shows ${bad}`);
        const later: [number, number][] = [[8, 0x5eed0001]];
        const err2 = writeSentinels(ctx, 0, later);
        if (err2) return fail(err2);
        const bad2 = pixelMismatch(map, later);
        if (bad2) return fail(`a pixel written after mapping is not visible (a copy?): ${bad2}`);
        return pass(`first, page-boundary, last pixel and a later write visible (${map.chunks.length} chunk(s))`);
      } finally {
        map.unmap();
      }
    },
  },
  {
    name: 'dmabuf.mmap-write-refused',
    description: 'mmap PROT_READ|PROT_WRITE of the dma-buf is refused (read-only export, B8)',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const fd = ctx.getDmabuf(s.q.info.dmabufId);
      if (fd < 0) return fail(`GET → ${rcName(fd)}`);
      const map = ctx.mapDmabuf(fd, s.q.info.size, PROT_READ | PROT_WRITE);
      if (typeof map !== 'number') {
        map.unmap();
        return fail('a writable mapping of the guest framebuffer was granted');
      }
      return pass(`refused: ${rcName(map)}`);
    },
  },
  {
    name: 'dmabuf.second-get',
    description: 'a second GET of one id is a distinct fd whose mapping stays valid after the first is closed (B13)',
    applies: dmabufReady,
    run(ctx) {
      if (ctx.real) {
        return quirk('B13', 'not run on a real device: a second GET of a live id corrupts mbochs\' file refcount');
      }
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const id = s.q.info.dmabufId;
      const fd1 = ctx.getDmabuf(id);
      const fd2 = ctx.getDmabuf(id);
      if (fd1 < 0 || fd2 < 0) return fail(`GET ${id} twice → ${rcName(fd1)}, ${rcName(fd2)}`);
      if (fd1 === fd2) return fail(`both GETs returned fd ${fd1}`);
      const want: [number, number][] = [[0, 0xb13b13b1]];
      const err = writeSentinels(ctx, 0, want);
      if (err) return fail(err);
      const rc = ctx.close(fd1);
      if (rc !== 0) return fail(`closing the first fd → ${rcName(rc)}`);
      const map = ctx.mapDmabuf(fd2, s.q.info.size);
      if (typeof map === 'number') return fail(`after closing the first fd, mmap of the second → ${rcName(map)}`);
      const bad = pixelMismatch(map, want);
      map.unmap();
      if (bad) return fail(`second fd shows ${bad}`);
      return pass(`fds ${fd1} and ${fd2}; the second maps fine after the first closed`);
    },
  },
  {
    name: 'dmabuf.get-unknown-id',
    description: 'GET of an id never returned (0, 0x7ffffff0) fails with -EINVAL (GVT) or -ENOENT (mbochs)',
    applies: all(deviceOpen, dmabufDevice),
    run(ctx) {
      const rcs = [0, 0x7ffffff0].map((id) => [id, ctx.client.getDmabuf(id)] as const);
      for (const [, fd] of rcs) if (fd >= 0) ctx.sys.close(fd);
      const bad = rcs.filter(([, rc]) => rc !== -Errno.EINVAL && rc !== -Errno.ENOENT);
      ctx.behaviour['get-unknown-id'] = rcName(rcs[1]![1]);
      if (bad.length) return fail(bad.map(([id, rc]) => `GET ${id} → ${rcName(rc)}`).join('; '));
      return pass(rcs.map(([id, rc]) => `GET ${id} → ${rcName(rc)}`).join(', '));
    },
  },
  {
    name: 'dmabuf.stale-id',
    description: 'after an id\'s last dma-buf closes, GET of it is rejected or still names the same buffer; ' +
      'ids are not reused for other buffers (B17)',
    applies: dmabufReady,
    run(ctx) {
      const a = ctx.show(MODE_A);
      if (typeof a === 'string') return fail(a);
      const x = a.q.info.dmabufId;
      const fd = ctx.getDmabuf(x);
      if (fd < 0) return fail(`GET ${x} → ${rcName(fd)}`);
      ctx.close(fd);
      const stale = ctx.getDmabuf(x);
      if (stale >= 0) ctx.close(stale);
      else if (stale !== -Errno.EINVAL && stale !== -Errno.ENOENT) {
        return fail(`GET of released id ${x} → ${rcName(stale)}`);
      }
      const b = ctx.show(MODE_B);
      if (typeof b === 'string') return fail(b);
      const z = b.q.info.dmabufId;
      if (z === x) {
        const text = `released id ${x} was reused for a different buffer (1024x768)`;
        return ctx.real && ctx.family === 'gvt' ? quirk('B17', text) : fail(text);
      }
      if (stale >= 0) {
        const back = ctx.show(MODE_A);
        if (typeof back === 'string') return fail(back);
        if (back.q.info.dmabufId !== x) {
          const now = back.q.info.dmabufId;
          return fail(`GET of released id ${x} succeeded, but the same mode now has id ${now}: ambiguous`);
        }
        ctx.behaviour['released-id'] = 'kept (GET still exports the same buffer)';
        return pass(`id ${x} kept for its buffer; a new buffer got id ${z}`);
      }
      ctx.behaviour['released-id'] = `rejected (${rcName(stale)})`;
      return pass(`GET of released id ${x} → ${rcName(stale)}; a new buffer got id ${z}`);
    },
  },
  {
    name: 'plane.mode-change',
    description: 'a mode change gives a new id; the old dma-buf fd stays mappable',
    applies: dmabufReady,
    run(ctx) {
      const a = ctx.show(MODE_A);
      if (typeof a === 'string') return fail(a);
      const fd = ctx.getDmabuf(a.q.info.dmabufId);
      if (fd < 0) return fail(`GET → ${rcName(fd)}`);
      const b = ctx.show(MODE_B);
      if (typeof b === 'string') return fail(b);
      const bad = planeMismatch(b.q.info, b.expected);
      if (bad) return fail(`after the change: ${bad}`);
      if (b.q.info.dmabufId === a.q.info.dmabufId) {
        return fail(`id ${b.q.info.dmabufId} unchanged across a mode change`);
      }
      const map = ctx.mapDmabuf(fd, a.q.info.size);
      if (typeof map === 'number') return mmapFailure(ctx, map, 'old dma-buf after the mode change');
      map.unmap();
      return pass(`id ${a.q.info.dmabufId} → ${b.q.info.dmabufId}; old fd still maps`);
    },
  },
  {
    name: 'plane.flip',
    description: 'flipping between two buffers 100 times gives exactly 2 ids, alternating; each maps to its own pixels',
    applies: all(dmabufReady, (ctx) => ctx.prog?.latch ?? 'no programmer'),
    run(ctx) {
      const prog = ctx.prog!;
      const e = prog.setMode(MODE_A);
      if (typeof e === 'number') return fail(`mode: ${rcName(e)}`);
      const marks: [0 | 1, number][] = [[0, 0xf1100000], [1, 0xf1100001]];
      for (const [buf, v] of marks) {
        const rc = prog.writePixel(buf, 0, v);
        if (rc < 0) return fail(`pixel into buffer ${buf}: ${rcName(rc)}`);
      }
      const ids: number[] = [];
      for (let i = 0; i < 100; i++) {
        const rc = prog.flip((i % 2) as 0 | 1);
        if (rc < 0) return fail(`flip ${i}: ${rcName(rc)}`);
        const q = ctx.query();
        if (q.rc !== 0) return fail(`query after flip ${i} → ${rcName(q.rc)}`);
        if (q.info.width !== e.width || q.info.height !== e.height) return fail(`flip ${i}: ${describePlane(q.info)}`);
        ids.push(q.info.dmabufId);
      }
      const distinct = new Set(ids);
      if (distinct.size !== 2) {
        return fail(`${distinct.size} distinct ids over 100 flips: ${[...distinct].slice(0, 8).join(',')}`);
      }
      const swapped = ids.findIndex((id, i) => id !== ids[i % 2]);
      if (swapped >= 0) return fail(`flip ${swapped} reported id ${ids[swapped]}, want ${ids[swapped % 2]}`);
      const notes: string[] = [];
      for (const [buf, v] of marks) {
        const fd = ctx.getDmabuf(ids[buf]!);
        if (fd < 0) return fail(`GET ${ids[buf]} → ${rcName(fd)}`);
        const map = ctx.mapDmabuf(fd, e.size);
        if (typeof map === 'number') {
          const r = mmapFailure(ctx, map, `buffer ${buf}`);
          if (!r.quirk || !ctx.real) return r;
          notes.push('pixels not checked (read-only dma-buf)');
          break;
        }
        const bad = pixelMismatch(map, [[0, v]]);
        map.unmap();
        if (bad) return fail(`id ${ids[buf]} (buffer ${buf}) shows ${bad}`);
      }
      const tail = notes.length ? notes.join('; ') : 'each shows its buffer';
      return pass(`ids ${ids[0]} and ${ids[1]} alternate; ${tail}`);
    },
  },
  {
    name: 'plane.invalid-type',
    description: 'plane types 3 and 0xffffffff: -EINVAL (GVT) or an empty plane (mbochs)',
    applies: all(deviceOpen, (ctx) => ctx.isDmabuf || 'region devices ignore the type (region.plane-type-ignored)'),
    run(ctx) {
      const seen: string[] = [];
      for (const t of [3, 0xffffffff]) {
        const q = ctx.client.query(ctx.queryFlags, t);
        const got = q.rc < 0 ? rcName(q.rc) : isEmpty(q.info) ? 'empty plane' : describePlane(q.info);
        seen.push(got);
        const want = ctx.family === 'gvt' ? ['-EINVAL']
          : ctx.family === 'bochs' ? ['empty plane'] : ['-EINVAL', 'empty plane'];
        if (!want.includes(got)) return fail(`type ${t} → ${got}, want ${want.join(' or ')}`);
      }
      ctx.behaviour['invalid-plane-type'] = seen[0]!;
      return pass(`types 3, 0xffffffff → ${seen.join(', ')}`);
    },
  },
  {
    name: 'plane.overlay',
    description: 'reports the OVERLAY query behaviour: an exported sprite plane, an empty plane, or -EINVAL',
    applies: dmabufReady,
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const gvt = ctx.gvt;
      if (gvt) {
        const rc = gvt.setSprite(256, 128);
        if (rc < 0) return fail(`programming the sprite: ${rcName(rc)}`);
      }
      try {
        const q = ctx.query(PlaneType.OVERLAY);
        if (q.rc === -Errno.EINVAL) {
          ctx.behaviour.overlay = '-EINVAL (overlay planes not exported)';
          return pass('OVERLAY → -EINVAL');
        }
        if (q.rc !== 0) return fail(`OVERLAY → ${rcName(q.rc)}`);
        if (isEmpty(q.info)) {
          ctx.behaviour.overlay = 'empty plane';
          return gvt ? fail('sprite enabled but OVERLAY reports an empty plane') : pass('OVERLAY → empty plane');
        }
        if (!gvt) return fail(`OVERLAY reports a plane the suite never programmed: ${describePlane(q.info)}`);
        if (q.info.width !== 256 || q.info.height !== 128 || q.info.stride !== 1024 || q.info.dmabufId === 0 ||
            q.info.dmabufId === s.q.info.dmabufId) {
          return fail(`sprite 256x128 reported as ${describePlane(q.info)}`);
        }
        ctx.behaviour.overlay = 'exported sprite plane';
        return pass(`OVERLAY → sprite ${describePlane(q.info)}`);
      } finally {
        gvt?.disableSprite();
      }
    },
  },
];

/** Run after the family checks: reset turns the display off. */
export const RESET_CHECK: Check = {
  name: 'device.reset',
  description: 'VFIO_DEVICE_RESET → 0, and the primary plane is then disabled',
  applies: dmabufReady,
  run(ctx) {
    const s = ctx.show(MODE_A);
    if (typeof s === 'string') return fail(s);
    const rc = ctx.client.reset();
    if (rc !== 0) return fail(`RESET → ${rcName(rc)}`);
    const q = ctx.client.query(ctx.queryFlags, PlaneType.PRIMARY);
    if (q.rc !== 0) return fail(`QUERY after reset → ${rcName(q.rc)}`);
    return isEmpty(q.info) ? pass('plane disabled after reset') : fail(`after reset: ${describePlane(q.info)}`);
  },
};
