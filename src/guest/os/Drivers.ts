import type { DirtyLog } from '../../gpu/DirtyLog.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import type { PageAllocator } from '../../gpu/PageAllocator.ts';
import { BochsDriver } from './BochsDriver.ts';
import type { DisplayDriver } from './DisplayDriver.ts';
import { GvtDriver } from './GvtDriver.ts';
import type { RegisterWindow } from './RegisterWindow.ts';

/** Everything a device driver is given when the guest boots. */
export interface DriverContext {
  /** The device's MMIO register window (BAR). */
  readonly regs: RegisterWindow;
  readonly memory: GuestMemory;
  readonly dirty: DirtyLog | undefined;
  /** Guest RAM pages for buffers and driver tables. */
  readonly allocator: PageAllocator;
  /** Free-form per-device settings from the host (e.g. VRAM placement for bochs). */
  readonly options: Readonly<Record<string, string | number | boolean>>;
  log(line: string): void;
}

export type DriverFactory = (ctx: DriverContext) => DisplayDriver;

const FACTORIES: ReadonlyMap<string, DriverFactory> = new Map<string, DriverFactory>([
  ['gvt', (ctx) => new GvtDriver(ctx)],
  // driverOptions carry the VRAM placement (fbFirstPage, fbPages) from the host's layout.
  ['bochs', (ctx) => new BochsDriver(ctx)],
]);

export function driverKinds(): string[] {
  return [...FACTORIES.keys()];
}

/** The driver for a device kind; throws RangeError for a kind with no driver. */
export function createDriver(kind: string, ctx: DriverContext): DisplayDriver {
  const f = FACTORIES.get(kind);
  if (!f) throw new RangeError(`no guest display driver for '${kind}' (have: ${driverKinds().join(', ')})`);
  return f(ctx);
}
