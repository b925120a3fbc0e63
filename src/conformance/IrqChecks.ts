import { Errno } from '../base/Errno.ts';
import {
  VFIO_DEVICE_SET_IRQS, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_DISPLAY_IRQ_FLAGS, VFIO_PCI_DISPLAY_IRQ_INDEX,
} from '../vfio/Abi.ts';
import { encodeIrqSet } from '../vfio/IrqInfo.ts';
import { fail, pass, type Check } from './Check.ts';
import { rcName, type CheckContext } from './CheckContext.ts';
import { all, deviceOpen, programmable } from './Requires.ts';

/** Whether the device offers the display event IRQ (our extension, index 5, count 1). */
export function hasDisplayIrq(ctx: CheckContext): boolean {
  const n = ctx.info?.numIrqs ?? 0;
  if (n <= VFIO_PCI_DISPLAY_IRQ_INDEX) return false;
  const r = ctx.client.irqInfo(VFIO_PCI_DISPLAY_IRQ_INDEX);
  return r.rc === 0 && r.info.count === 1;
}

const withInfo = all(deviceOpen, (ctx) => ctx.info !== undefined || 'GET_INFO failed');

/** Drain an eventfd: its counter, 0n when it was not readable, or -errno. */
function drain(ctx: CheckContext, efd: number): bigint | number {
  const v = ctx.sys.readEventfd(efd);
  if (v === -Errno.EAGAIN) return 0n;
  return v;
}

export const IRQ_CHECKS: readonly Check[] = [
  {
    name: 'irq.info',
    description: 'GET_IRQ_INFO answers for every index < num_irqs, -EINVAL at num_irqs',
    applies: withInfo,
    run(ctx) {
      const n = ctx.info!.numIrqs;
      const counts: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = ctx.client.irqInfo(i);
        if (r.rc !== 0) return fail(`GET_IRQ_INFO(${i}) → ${rcName(r.rc)}`);
        if (r.info.index !== i) return fail(`GET_IRQ_INFO(${i}) changed index to ${r.info.index}`);
        counts.push(`${i}:${r.info.count}`);
      }
      const past = ctx.client.irqInfo(n).rc;
      if (past !== -Errno.EINVAL) return fail(`GET_IRQ_INFO(${n}) → ${rcName(past)}, want -EINVAL`);
      return pass(`counts ${counts.join(' ')}; index ${n} → -EINVAL`);
    },
  },
  {
    name: 'irq.info-argsz-15',
    description: 'GET_IRQ_INFO with argsz 15 → -EINVAL',
    applies: deviceOpen,
    run(ctx) {
      const rc = ctx.client.irqInfo(0, 15).rc;
      return rc === -Errno.EINVAL ? pass('-EINVAL') : fail(`→ ${rcName(rc)}, want -EINVAL`);
    },
  },
  {
    name: 'irq.display-irq',
    description: 'reports whether the display event IRQ (extension: index 5) exists; if so count 1, EVENTFD|NORESIZE',
    applies: withInfo,
    run(ctx) {
      const n = ctx.info!.numIrqs;
      if (n <= VFIO_PCI_DISPLAY_IRQ_INDEX) {
        ctx.behaviour['display-irq'] = `absent (num_irqs ${n})`;
        return pass(`absent: num_irqs ${n}`);
      }
      const r = ctx.client.irqInfo(VFIO_PCI_DISPLAY_IRQ_INDEX);
      if (r.rc !== 0) return fail(`num_irqs ${n} but GET_IRQ_INFO(5) → ${rcName(r.rc)}`);
      if (r.info.count === 0) {
        ctx.behaviour['display-irq'] = 'absent (index 5 has count 0)';
        return pass('index 5 exists with count 0');
      }
      if (r.info.count !== 1 || r.info.flags !== VFIO_PCI_DISPLAY_IRQ_FLAGS) {
        return fail(`index 5: count ${r.info.count} flags 0x${r.info.flags.toString(16)}, want 1 and EVENTFD|NORESIZE`);
      }
      ctx.behaviour['display-irq'] = 'present (index 5, count 1, EVENTFD|NORESIZE)';
      return pass('index 5: count 1, EVENTFD|NORESIZE');
    },
  },
  {
    name: 'irq.set-argsz-19',
    description: 'SET_IRQS with argsz 19 → -EINVAL',
    applies: deviceOpen,
    run(ctx) {
      const b = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, count: 0 });
      new DataView(b.buffer).setUint32(0, 19, true);
      const rc = ctx.client.ioctl(VFIO_DEVICE_SET_IRQS, b);
      return rc === -Errno.EINVAL ? pass('-EINVAL') : fail(`→ ${rcName(rc)}, want -EINVAL`);
    },
  },
  {
    name: 'irq.set-bad-index',
    description: 'SET_IRQS for index num_irqs → -EINVAL',
    applies: withInfo,
    run(ctx) {
      const flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
      const rc = ctx.client.setIrqs({ flags, index: ctx.info!.numIrqs, count: 0 });
      return rc === -Errno.EINVAL ? pass('-EINVAL') : fail(`→ ${rcName(rc)}, want -EINVAL`);
    },
  },
  {
    name: 'irq.display-event',
    description: 'an eventfd armed on the display IRQ becomes readable on a mode change and a flip; read resets it',
    applies: all(deviceOpen, programmable, (ctx) => hasDisplayIrq(ctx) || 'no display event IRQ'),
    run(ctx) {
      const prog = ctx.prog!;
      if (typeof prog.setMode({ width: 640, height: 480 }) === 'number') return fail('setting 640x480 failed');
      const efd = ctx.eventfd();
      if (efd < 0) return fail(`eventfd() → ${rcName(efd)}`);
      const bind = (fd: number): number => ctx.client.setIrqs({
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_DISPLAY_IRQ_INDEX,
        eventfds: [fd],
      });
      const arm = bind(efd);
      if (arm !== 0) return fail(`arming SET_IRQS → ${rcName(arm)}`);
      try {
        const idle = drain(ctx, efd);
        if (typeof idle === 'number') return fail(`read eventfd → ${rcName(idle)}`);
        const steps: [string, () => number][] = [
          ['mode change to 1024x768', () => {
            const e = prog.setMode({ width: 1024, height: 768 });
            return typeof e === 'number' ? e : 0;
          }],
          ['flip to buffer 1', () => prog.flip(1)],
        ];
        const seen: string[] = [];
        for (const [what, step] of steps) {
          const rc = step();
          if (rc < 0) return fail(`${what}: ${rcName(rc)}`);
          const v = drain(ctx, efd);
          if (typeof v === 'number') return fail(`read eventfd after ${what} → ${rcName(v)}`);
          if (v === 0n) return fail(`eventfd not readable after ${what}`);
          const again = ctx.sys.readEventfd(efd);
          if (again !== -Errno.EAGAIN) {
            return fail(`second read after ${what} → ${String(again)}, want -EAGAIN (reset)`);
          }
          seen.push(`${what}: counter ${v}`);
        }
        const quiet = drain(ctx, efd);
        if (quiet !== 0n) return fail(`eventfd readable with nothing changed (${String(quiet)})`);
        return pass(seen.join('; '));
      } finally {
        const rc = bind(-1);
        if (rc !== 0) ctx.behaviour['display-irq-disarm'] = `disarm → ${rcName(rc)}`;
      }
    },
  },
];
