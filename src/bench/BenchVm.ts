import type { Clock } from '../base/Clock.ts';
import { VirtualClock } from '../base/Clock.ts';
import type { IDisposable } from '../base/Disposable.ts';
import { emulatedPageResolver } from '../display/EmulatedPages.ts';
import { VfioDisplay, type RefreshPolicy } from '../display/VfioDisplay.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import { siblingModule } from '../guest/host/startWorker.ts';
import { GuestVm } from '../lab/GuestVm.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';

export interface BenchVmOptions {
  readonly name?: string;
  readonly width: number;
  readonly height: number;
  /** Buffers the guest flips between (default 2). */
  readonly buffers?: number;
  /** Flip on every vblank (default) or on a seeded random half of them. */
  readonly everyVblank?: boolean;
  readonly seed?: number;
}

export interface BenchDisplayOptions {
  readonly policy: RefreshPolicy;
  readonly intervalMs?: number;
  /** Default: a VirtualClock nobody advances (the caller refreshes by hand). */
  readonly clock?: Clock;
}

/** Low guest pages the cheap guest leaves alone (its "kernel"). */
const FIRST_PAGE = 256;
/** A GGTT just big enough for one V5_8 vGPU (64 MiB aperture below half, 384 MiB hidden above). */
const GGTT_PAGES = 1 << 18;

/**
 * One benchmark VM: a lab GuestVm (gvt vGPU + a guest in a worker) whose guest is the cheap
 * flipper (guests/FlipGuest.ts), on its own emulated host — a real 4 GiB GGTT holds only a handful
 * of V5_8 vGPUs, and the host CPU is what is measured here, not GGTT capacity. The host side
 * drives vblanks (`vblank()`); `onLatch` fires when a flip latches; display clients are made
 * with `createDisplay` on the VM's device fd.
 */
export class BenchVm implements IDisposable {
  public readonly host: EmulatedHost;
  public readonly guest: GuestVm;
  public readonly device: GvtDevice;
  /** Primary-plane flips latched so far. */
  public latches = 0;
  private readonly _subs: IDisposable[] = [];
  private _latchListener: ((t: number) => void) | undefined;

  private constructor(o: BenchVmOptions) {
    const buffers = o.buffers ?? 2;
    const stride = Math.ceil((o.width * 4) / 64) * 64;
    const bufPages = Math.ceil((stride * o.height) / PAGE_SIZE);
    const ramBytes = Math.ceil(((FIRST_PAGE + buffers * bufPages + 16) * PAGE_SIZE) / (1 << 20)) * (1 << 20);
    this.host = new EmulatedHost({ ggttPages: GGTT_PAGES });
    const program = siblingModule('./guests/FlipGuest.ts', import.meta.url);
    // The guest needs its aperture base before boot: the host places it at the GGTT's start.
    this.guest = new GuestVm({
      host: this.host, type: 'i915-GVTg_V5_8', name: o.name, ramBytes, program,
      maxHeapMb: 32, watchdogMs: 60_000, startTimeoutMs: 120_000,
      driverOptions: {
        width: o.width, height: o.height, gma: 0, page: FIRST_PAGE, buffers,
        every: o.everyVblank === false ? 0 : 1, seed: o.seed ?? 1,
      },
    });
    this.device = this.guest.device as GvtDevice;
    if (this.device.aperture.base !== 0) throw new Error('bench vm: unexpected aperture placement');
    this._subs.push(this.device.onDisplayEvent((e) => {
      if (e.kind !== 'flip' || e.planeType !== PlaneType.PRIMARY) return;
      this.latches++;
      this._latchListener?.(performance.now());
    }));
  }

  /** Boot the guest and wait until its plane is programmed (a vblank latched it). */
  public static async boot(o: BenchVmOptions): Promise<BenchVm> {
    const b = new BenchVm(o);
    try {
      await b.guest.boot();
      // The guest's setup writes are queued; vblanks apply them and latch the first surface.
      for (let i = 0; i < 400 && b.device.activePipe < 0; i++) {
        await new Promise((r) => setTimeout(r, 5));
        b.guest.vblank();
      }
      if (b.device.activePipe < 0) throw new Error('bench vm: the guest never enabled its pipe');
    } catch (err) {
      b.dispose();
      throw err;
    }
    return b;
  }

  public get name(): string {
    return this.guest.name;
  }

  /** Called with performance.now() at every latched primary flip (one listener). */
  public set onLatch(fn: ((t: number) => void) | undefined) {
    this._latchListener = fn;
  }

  /** A display client on this VM's device fd (the caller starts and disposes it). */
  public createDisplay(o: BenchDisplayOptions): VfioDisplay {
    const vgpu = this.guest.vgpu;
    return new VfioDisplay(this.host.kernel, this.guest.fd, {
      clock: o.clock ?? new VirtualClock(), policy: o.policy, intervalMs: o.intervalMs ?? 16,
      dirtyLog: vgpu.dirtyLog, pageResolver: emulatedPageResolver(this.host.kernel),
    });
  }

  public vblank(): void {
    this.guest.vblank();
  }

  public dispose(): void {
    for (const s of this._subs) s.dispose();
    this._subs.length = 0;
    this.guest.dispose();
  }
}
