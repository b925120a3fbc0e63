import { Errno } from '../base/Errno.ts';
import { fail, pass, type Check } from './Check.ts';
import { rcName } from './CheckContext.ts';
import { dmabufReady, MODE_A } from './DmabufChecks.ts';
import { all, emulatedOnly, hasFdCount } from './Requires.ts';

/** Last in the suite: the first closes the device fd. */
export const LIFETIME_CHECKS: readonly Check[] = [
  {
    name: 'lifetime.device-close',
    description: 'after the device fd closes with a dma-buf open, mapping the dma-buf fails -ENODEV ' +
      'and closing it succeeds',
    applies: all(dmabufReady, emulatedOnly('mbochs keeps the pages of an exported dma-buf alive after close')),
    run(ctx) {
      const s = ctx.show(MODE_A);
      if (typeof s === 'string') return fail(s);
      const fd = ctx.getDmabuf(s.q.info.dmabufId);
      if (fd < 0) return fail(`GET → ${rcName(fd)}`);
      ctx.unmapRegions(); // a mapped region would keep the device file open past close (vm_file)
      const rc = ctx.sys.close(ctx.fd);
      ctx.deviceClosed = true;
      if (rc !== 0) return fail(`closing the device fd → ${rcName(rc)}`);
      const map = ctx.mapDmabuf(fd, s.q.info.size);
      if (typeof map !== 'number') {
        map.unmap();
        return fail('an orphaned dma-buf still maps after the device closed');
      }
      if (map !== -Errno.ENODEV) return fail(`mmap of the orphan → ${rcName(map)}, want -ENODEV`);
      const c = ctx.close(fd);
      return c === 0 ? pass('mmap → -ENODEV, close → 0') : fail(`closing the orphan → ${rcName(c)}`);
    },
  },
  {
    name: 'lifetime.fd-baseline',
    description: 'after the suite closed everything, the process has exactly the fds it started with',
    applies: hasFdCount,
    run(ctx) {
      const base = ctx.baselineFds!;
      const want = base - (ctx.deviceClosed ? 1 : 0);
      const now = ctx.openFdCount!();
      return now === want ? pass(`${now} open (baseline ${base}${ctx.deviceClosed ? ', device fd closed' : ''})`)
        : fail(`${now} fds open, want ${want} (baseline ${base}${ctx.deviceClosed ? ' minus the device fd' : ''})`);
    },
  },
];
