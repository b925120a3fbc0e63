import { DirtyLog } from '../../gpu/DirtyLog.ts';
import { GuestMemory } from '../../gpu/GuestMemory.ts';
import { PageAllocator } from '../../gpu/PageAllocator.ts';
import { createDriver } from '../os/Drivers.ts';
import { GuestOs } from '../os/GuestOs.ts';
import { GuestState, InputType } from './GuestChannel.ts';
import { GuestStoppedError, type GuestPort } from './GuestPort.ts';

/** What the host hands a guest worker (structured-cloned; the buffers are shared). */
export interface GuestBootData {
  readonly channel: SharedArrayBuffer;
  readonly memory: SharedArrayBuffer;
  readonly dirty: SharedArrayBuffer | undefined;
  readonly dirtyPages: number;
  /** Device kind: selects the guest display driver. */
  readonly kind: string;
  /** Pages at the bottom of memory the guest kernel keeps for itself (not for buffers). */
  readonly reservedPages: number;
  readonly driverOptions: Readonly<Record<string, string | number | boolean>>;
  /** Module URL of a custom guest program (tests); the guest OS when absent. */
  readonly program: string | undefined;
  /** Wall-clock offset for the guest's clock (ms added to Date.now()). */
  readonly clockOffsetMs: number;
}

/** What a custom guest program's `main` receives. */
export interface GuestProgramContext {
  readonly port: GuestPort;
  readonly memory: GuestMemory;
  readonly dirty: DirtyLog | undefined;
  readonly data: GuestBootData;
}

export interface GuestProgramModule {
  main(ctx: GuestProgramContext): void | Promise<void>;
}

/** How long the idle loop sleeps between heartbeats when nothing happens. */
const IDLE_WAIT_MS = 100;

export function guestContext(port: GuestPort, data: GuestBootData): GuestProgramContext {
  const memory = new GuestMemory(data.memory);
  const dirty = data.dirty ? new DirtyLog(data.dirty, data.dirtyPages) : undefined;
  return { port, memory, dirty, data };
}

/**
 * The guest OS main loop: boot, then sleep on the host's doorbell and handle input and vblank
 * interrupts as they come, publishing status after each batch and a heartbeat every wake-up.
 * Returns when the host asks the guest to stop.
 */
export function runGuestOs(ctx: GuestProgramContext): void {
  const { port, memory, dirty, data } = ctx;
  const reserved = Math.min(data.reservedPages, memory.pageCount - 1);
  const allocator = new PageAllocator(reserved, memory.pageCount - reserved);
  const log = (line: string): void => port.log(line);
  const options = data.driverOptions;
  const driver = createDriver(data.kind, { regs: port, memory, dirty, allocator, options, log });
  const os = new GuestOs({ driver, memory, log, now: () => Date.now() + data.clockOffsetMs });
  port.setState(GuestState.BOOTING);
  try {
    const r = os.boot();
    if (r < 0) log(`boot: display unavailable (${r}); running headless`);
    port.publish(os.status());
    port.setState(GuestState.RUNNING);
    // Start from 0, not from the counter's value now: a host that sees RUNNING may deliver a
    // vblank at once (or did during boot), and sampling here would count it as seen without
    // handling or acking it. Pending vblanks are handled once, coalesced, and acked.
    let lastVb = 0;
    for (;;) {
      const bell = port.bell;
      if (port.stopRequested) break;
      let busy = false;
      port.drainInput((type, a, b) => {
        busy = true;
        if (type === InputType.KEY) os.key(a, b !== 0);
        else if (type === InputType.REL) os.pointerRel(a, b);
        else if (type === InputType.ABS) os.pointerAbs(a, b);
      });
      const vb = port.vblankSeq;
      if (vb !== lastVb) {
        lastVb = vb;
        os.vblank({ seq: vb, writesApplied: port.vblankApplied });
        port.ackVblank(vb);
        busy = true;
      }
      if (busy) port.publish(os.status());
      port.heartbeat();
      if (!busy) port.waitBell(bell, IDLE_WAIT_MS);
    }
  } catch (err) {
    if (!(err instanceof GuestStoppedError)) throw err;
  } finally {
    os.dispose();
    driver.dispose();
  }
  log('guest: halted');
}
