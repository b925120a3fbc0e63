import { RealClock, type Clock } from '../base/Clock.ts';
import { Disposable, type IDisposable } from '../base/Disposable.ts';
import { errnoName } from '../base/Errno.ts';
import { emulatedPageResolver } from '../display/EmulatedPages.ts';
import { VfioDisplay, type RefreshPolicy } from '../display/VfioDisplay.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import type { MmioTarget } from '../guest/host/HostPort.ts';
import { Vm, type VmExit, type VmStatus } from '../guest/host/Vm.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { buildEdid } from '../vgpu/Edid.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import type { EmulatedHost, Vgpu } from '../vfio/EmulatedHost.ts';
import type { PlaneInfo } from '../vfio/PlaneInfo.ts';
import { query } from '../vfio/GfxIoctl.ts';
import { VFIO_GFX_PLANE_TYPE_DMABUF } from '../vfio/Abi.ts';
import { bochsMmio, gvtMmio, type MmioCounters } from './GuestMmio.ts';
import { plugMonitor } from './MonitorPlug.ts';
import { planeText } from './PlaneText.ts';

export type GuestVmKind = 'gvt' | 'bochs';

/** A monitor: its preferred mode (an EDID is built for it) or a raw EDID blob. */
export type Monitor =
  | { readonly width: number; readonly height: number; readonly refreshHz?: number }
  | Uint8Array;

export interface GuestVmOptions {
  readonly host: EmulatedHost;
  /** 'gvt' or 'bochs' (the default mdev type of that kind). Give this or `type`. */
  readonly kind?: GuestVmKind;
  /** An mdev type name, e.g. 'i915-GVTg_V5_8' or 'mbochs-large'; its kind must be gvt or bochs. */
  readonly type?: string;
  readonly name?: string;
  readonly uuid?: string;
  /** Guest RAM in bytes (default: the host's, 64 MiB gvt / 8 MiB bochs + VRAM). */
  readonly ramBytes?: number;
  /** Plugged through the VFIO EDID region before boot; default: the mdev type's own EDID. */
  readonly monitor?: Monitor;
  /** Run this module's `main(ctx)` instead of the guest OS (test fixtures). */
  readonly program?: URL;
  /** Extra settings for the guest driver (merged over the VRAM placement bochs needs). */
  readonly driverOptions?: Readonly<Record<string, string | number | boolean>>;
  readonly clock?: Clock;
  readonly watchdogMs?: number;
  readonly startTimeoutMs?: number;
  readonly maxHeapMb?: number;
  readonly clockOffsetMs?: number;
  readonly ringSlots?: number;
  /** The VM's display client (`display`): refresh policy and period once started. Default timer, 16 ms. */
  readonly refresh?: RefreshPolicy;
  readonly intervalMs?: number;
}

function edidOf(m: Monitor): Uint8Array {
  if (m instanceof Uint8Array) return m;
  return buildEdid({ width: m.width, height: m.height, refreshHz: m.refreshHz, name: 'lab-monitor' });
}

/**
 * One lab VM: an emulated vGPU (gvt or bochs) on `host`, and a guest worker (Vm) that drives it.
 * The glue (GuestMmio.ts) forwards the guest's register window to the device model — gvt BAR0 with
 * the lab's read-only EDID window, bochs' MMIO BAR — and VRAM is simply guest memory. The host side
 * opens the device on `host.kernel` like a VMM does: the EDID region plugs monitors, and `display`
 * — the VM's one display client and dma-buf cache — shows its planes (once started) and answers
 * one-shot reads (`screenText`, snapshots) from the same cache (GET + mmap once per dmabuf_id).
 *
 * Throws RangeError for a bad configuration (unknown type, a kind without a guest driver).
 */
export class GuestVm extends Disposable {
  public readonly host: EmulatedHost;
  public readonly vgpu: Vgpu;
  public readonly vm: Vm;
  public readonly kind: GuestVmKind;
  public readonly name: string;
  /** The VMM's device fd on host.kernel (open for the VM's lifetime). */
  public readonly fd: number;
  /**
   * The VMM's display client for this device: one-shot reads (`screenText`) use it as is; whoever
   * shows it continuously takes it (`takeDisplay`), starts it, and disposes it after the VM.
   */
  public readonly display: VfioDisplay;
  private _displayTaken = false;
  /** Guest accesses the MMIO glue dropped (sizes the device never takes, EDID window writes). */
  public readonly mmioCounters: MmioCounters = { dropped: 0 };
  private _destroyed = false;

  public static create(opts: GuestVmOptions): GuestVm {
    return new GuestVm(opts);
  }

  public constructor(opts: GuestVmOptions) {
    super();
    const typeOrKind = opts.type ?? opts.kind;
    if (!typeOrKind) throw new RangeError('GuestVm: give a kind (gvt, bochs) or an mdev type');
    this.host = opts.host;
    const vgpu = opts.host.createVgpu(typeOrKind, { uuid: opts.uuid, ramBytes: opts.ramBytes });
    this.vgpu = vgpu;
    let fd = -1;
    try {
      if (vgpu.kind !== 'gvt' && vgpu.kind !== 'bochs') {
        throw new RangeError(`GuestVm: no guest driver for a ${vgpu.kind} vGPU (${vgpu.typeName})`);
      }
      this.kind = vgpu.kind;
      fd = opts.host.openDevice(vgpu.uuid);
      if (fd < 0) throw new RangeError(`GuestVm: cannot open ${vgpu.uuid}: ${errnoName(fd)}`);
      this.fd = fd;
      if (opts.monitor) {
        const r = plugMonitor(opts.host.kernel, fd, edidOf(opts.monitor));
        if (r < 0) throw new RangeError(`GuestVm: the EDID region refused the monitor: ${errnoName(r)}`);
      }
      let mmio: MmioTarget;
      let placement: Record<string, number> = {};
      if (vgpu.kind === 'gvt') {
        mmio = gvtMmio(vgpu.device as GvtDevice, vgpu.link, this.mmioCounters);
      } else {
        mmio = bochsMmio(vgpu.device as BochsDevice, this.mmioCounters);
        placement = { fbFirstPage: vgpu.layout.fbFirstPage ?? 0, fbPages: vgpu.layout.fbPages ?? 0 };
      }
      this.name = opts.name ?? `${vgpu.kind}-${vgpu.vmId}`;
      this.vm = new Vm({
        kind: vgpu.kind, memory: vgpu.memory, dirtyLog: vgpu.dirtyLog, mmio, name: this.name,
        driverOptions: { ...placement, ...opts.driverOptions },
        program: opts.program, clock: opts.clock, watchdogMs: opts.watchdogMs,
        startTimeoutMs: opts.startTimeoutMs, maxHeapMb: opts.maxHeapMb, clockOffsetMs: opts.clockOffsetMs,
        ringSlots: opts.ringSlots,
      });
    } catch (err) {
      if (fd >= 0) opts.host.kernel.close(fd);
      opts.host.destroyVgpu(vgpu.uuid);
      throw err;
    }
    this.display = new VfioDisplay(opts.host.kernel, this.fd, {
      clock: opts.clock ?? new RealClock(), policy: opts.refresh, intervalMs: opts.intervalMs,
      dirtyLog: vgpu.dirtyLog, pageResolver: emulatedPageResolver(opts.host.kernel),
    });
  }

  public get uuid(): string {
    return this.vgpu.uuid;
  }

  public get device(): GvtDevice | BochsDevice {
    return this.vgpu.device as GvtDevice | BochsDevice;
  }

  public get status(): VmStatus {
    return this.vm.status;
  }

  /** Start the guest; resolves once it runs (the OS booted to its prompt). */
  public boot(): Promise<void> {
    return this.vm.boot();
  }

  /** One vblank: pending register writes are applied, the device latches, the guest is interrupted. */
  public vblank(): void {
    this.vm.vblank();
  }

  /** Vblanks on a timer (the VM's clock) until the returned handle or the VM is disposed. */
  public startVblank(intervalMs = 16): IDisposable {
    return this.vm.startVblank(intervalMs);
  }

  /**
   * Deliver `count` vblanks one at a time, each only after the guest handled the previous one:
   * the caller sets the pace, and every vblank reaches the guest (none is coalesced).
   */
  public async step(count = 1, timeoutMs = 10_000): Promise<VmStatus> {
    let st = this.vm.status;
    for (let i = 0; i < count; i++) {
      this.vm.vblank();
      const want = this.vm.status.vblanksDelivered;
      st = await this.vm.waitFor((s) => s.vblankAck >= want, timeoutMs, `vblank ${want} handled`);
    }
    return st;
  }

  /**
   * Step vblanks until `pred` holds (checked before every step), at most `maxSteps`; rejects with
   * what was on screen otherwise. Returns the number of vblanks it took.
   */
  public async stepUntil(pred: () => boolean, what: string, maxSteps = 1000): Promise<number> {
    for (let i = 0; i <= maxSteps; i++) {
      if (pred()) return i;
      if (i < maxSteps) await this.step(1);
    }
    const screen = this.screenText().filter((l) => l !== '').slice(-8).join('\n');
    throw new Error(`${this.name}: ${what} not reached after ${maxSteps} vblanks; screen:\n${screen}`);
  }

  /** Plug a monitor (hotplug through the VFIO EDID region). 0 or -errno. */
  public plug(monitor: Monitor): number {
    return plugMonitor(this.host.kernel, this.fd, edidOf(monitor));
  }

  /** Unplug the monitor (link down). 0 or -errno. */
  public unplug(): number {
    return plugMonitor(this.host.kernel, this.fd, undefined);
  }

  /**
   * Hand the display client to a caller that shows it (the lab): it is started and disposed by
   * that caller, and outlives this VM — `dispose` then only halts it, keeping the last frame and
   * the buffers it shows (the VMM's view of a VM that went away). Screen reads keep using it.
   */
  public takeDisplay(): VfioDisplay {
    this._displayTaken = true;
    return this.display;
  }

  /** QUERY_GFX_PLANE on the VMM's fd (inspection: the answer as is, nothing acquired). */
  public query(planeType: number = PlaneType.PRIMARY): { rc: number; info: PlaneInfo } {
    const { rc, info } = query(this.host.kernel, this.fd, VFIO_GFX_PLANE_TYPE_DMABUF, planeType);
    return { rc, info };
  }

  /** The text on the exported primary plane (the display's capture, OCR); [] when none. */
  public screenText(): string[] {
    const c = this.display.capture(PlaneType.PRIMARY);
    return c.kind === 'frame' ? planeText(c.plane, c.buffer.mapping) : [];
  }

  /**
   * Resolves with the exported screen's lines once one contains `match` (or the RegExp matches
   * all of it); checked whenever the guest reports new content or flips. Rejects on timeout.
   */
  public waitForScreen(match: string | RegExp, timeoutMs = 10_000): Promise<string[]> {
    const test = (lines: string[]): boolean =>
      typeof match === 'string' ? lines.some((l) => l.includes(match)) : match.test(lines.join('\n'));
    let key = '';
    let last: string[] = [];
    return this.vm.waitFor((s) => {
      const k = `${s.content}/${s.flips}/${s.activeVt}/${s.width}x${s.height}`;
      if (k === key) return false;
      key = k;
      last = this.screenText();
      return test(last);
    }, timeoutMs, `screen text ${String(match)}`).then(() => last);
  }

  /** Ask the guest to halt (terminated after `graceMs`). */
  public stop(graceMs?: number): Promise<VmExit> {
    return this.vm.stop(graceMs);
  }

  /**
   * Terminate the guest, release the display's dma-bufs (only halt it when it was taken), close
   * the device fd, destroy the vGPU.
   */
  public override dispose(): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this.vm.dispose();
    if (this._displayTaken) this.display.halt(`${this.name}: guest destroyed`);
    else this.display.dispose();
    this.host.kernel.close(this.fd);
    this.host.destroyVgpu(this.vgpu.uuid);
    super.dispose();
  }
}
