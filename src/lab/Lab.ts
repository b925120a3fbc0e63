import { RealClock } from '../base/Clock.ts';
import { Disposable } from '../base/Disposable.ts';
import { VfioDisplay, type RefreshPolicy } from '../display/VfioDisplay.ts';
import type { VmExit } from '../guest/host/Vm.ts';
import { BTN } from '../guest/os/Evdev.ts';
import { PROMPT } from '../guest/os/Shell.ts';
import { RfbServer } from '../rfb/RfbServer.ts';
import type { RfbSecurity } from '../rfb/RfbConnection.ts';
import { LabServer } from '../server/LabServer.ts';
import { VmRegistry, type LabVm, type PointerInput } from '../server/VmRegistry.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import type { Sys } from '../vfio/Sys.ts';
import { GuestVm, type GuestVmKind } from './GuestVm.ts';
import { readMonitor, type MonitorState } from './MonitorPlug.ts';

/** A device opened elsewhere (a real /dev/vfio device, or an emulated one), shown view-only. */
export interface ExternalDevice {
  readonly spec: string;
  readonly sys: Sys;
  readonly fd: number;
  readonly real: boolean;
  close(): void;
}

export interface LabOptions {
  /** Devices to show besides the VMs (`run --device`): no guest, no input. */
  devices?: readonly ExternalDevice[];
  /** VM kinds or mdev types, in order (default: gvt with its graphical session, then bochs). */
  vms: readonly string[];
  refresh: RefreshPolicy;
  intervalMs: number;
  listen: string;
  port: number;
  strictPort?: boolean;
  token?: string;
  /** PEM certificate and key for HTTPS/WSS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Serve a non-loopback address without TLS (said on every start). */
  insecure?: boolean;
  /** The server's global bound on queued output, bytes. */
  maxQueuedTotal?: number;
  /** Origins besides the lab's own that may open its WebSockets (a page served elsewhere, e.g. noVNC). */
  allowedOrigins?: readonly string[];
  /** `run --vnc`: an RFB server, one port per VM from `port` on, and `/vnc/<vm>` on the web server. */
  vnc?: { readonly listen: string; readonly port: number; readonly security: RfbSecurity };
  /** Progress lines for the terminal. */
  log: (line: string) => void;
  /** VMs whose display comes from elsewhere (`run --qemu`: QEMU D-Bus displays), served as they are. */
  extraVms?: readonly LabVm[];
  /** Plug a VM's original monitor back when its last viewer leaves after resizing it (default true). */
  restoreMode?: boolean;
}

/** Absolute pointer range the guest's tablet reports (evdev ABS 0..32767). */
const ABS_MAX = 32767;
const BUTTONS = [BTN.LEFT, BTN.RIGHT, BTN.MIDDLE] as const;

/**
 * The lab: an emulated host with several VMs, each a guest OS in a worker driving its vGPU, a VMM
 * display client per VM consuming the exported planes, and the web server that mirrors them to
 * browsers. The first gvt VM starts its graphical session (the seed's X server with page flips);
 * the others stay on fbcon.
 */
export class Lab extends Disposable {
  public readonly host = new EmulatedHost();
  public readonly registry = this._register(new VmRegistry());
  public readonly guests: GuestVm[] = [];
  public readonly displays: VfioDisplay[] = [];
  private readonly _external: ExternalDevice[] = [];
  private _server: LabServer | undefined;
  private _vnc: RfbServer | undefined;

  private constructor(private readonly _o: LabOptions) {
    super();
  }

  public get server(): LabServer | undefined {
    return this._server;
  }

  /** The VNC server (`run --vnc`), once every VM is up. */
  public get vnc(): RfbServer | undefined {
    return this._vnc;
  }

  /** Boot every VM and start the server. Throws (after cleaning up) when anything fails. */
  public static async start(o: LabOptions): Promise<Lab> {
    const lab = new Lab(o);
    try {
      await lab._start();
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  private async _start(): Promise<void> {
    const { log } = this._o;
    // Validate the configuration before anything binds or boots (bad flags must change nothing).
    const specs = this._o.vms.map((v, i) => ({ spec: v, name: `${v.replace(/[^\w.-]/g, '')}-${i + 1}` }));
    for (const { spec } of specs) {
      const kind = spec === 'gvt' || spec === 'bochs' ? spec : EmulatedHost.kindOf(spec);
      if (kind !== 'gvt' && kind !== 'bochs') {
        throw new RangeError(`--vms: '${spec}' is not a gvt or bochs VM kind or mdev type (known types: ${EmulatedHost.types().filter((t) => EmulatedHost.kindOf(t) !== 'region').join(', ')})`);
      }
    }
    this._server = await LabServer.start({
      vms: this.registry, listen: this._o.listen, port: this._o.port, strictPort: this._o.strictPort,
      token: this._o.token, tls: this._o.tls, insecure: this._o.insecure, maxQueuedTotal: this._o.maxQueuedTotal,
      allowedOrigins: this._o.allowedOrigins, log,
    });
    let sessionStarted = false;
    for (const { spec, name } of specs) {
      const isKind = spec === 'gvt' || spec === 'bochs';
      const g = GuestVm.create({
        host: this.host, kind: isKind ? (spec as GuestVmKind) : undefined, type: isKind ? undefined : spec, name,
        refresh: this._o.refresh, intervalMs: this._o.intervalMs,
      });
      this.guests.push(g);
      log(`${name}: ${g.vgpu.typeName} (${g.kind}) uuid ${g.uuid}: booting`);
      await g.boot();
      this._register(g.startVblank(16));
      // The VM's one display client: the viewers and the screen-text reads share its dma-buf cache.
      const display = g.takeDisplay();
      this.displays.push(display);
      // A guest that stops (halt, crash, kill, dispose) leaves its last frame with a status; the
      // display stops touching the device fd before GuestVm.dispose closes it (onExit fires first).
      const halt = (e: VmExit): void => {
        const why = `guest ${e.reason}${e.message ? `: ${e.message}` : ''}`;
        if (!display.isDisposed && !display.halted) log(`${name}: ${why}`);
        display.halt(`${name}: ${why}`);
      };
      this._register(g.vm.onExit(halt));
      display.start();
      if (g.vm.exit) halt(g.vm.exit);
      log(`${name}: display client ${display.mode}, refresh ${display.policy}${display.policyNote ? ` (${display.policyNote})` : ''}`);
      await g.waitForScreen(PROMPT.trim(), 30_000);
      if (g.kind === 'gvt' && !sessionStarted) {
        sessionStarted = true;
        g.vm.typeText('startx\n');
        log(`${name}: started the graphical session (startx) on tty7`);
      }
      this.registry.add(this._labVm(g, display));
      log(`${name}: ready`);
    }
    (this._o.devices ?? []).forEach((dev, i) => {
      // Real kernels have no display IRQ: VfioDisplay falls back to the timer policy and says so.
      const display = new VfioDisplay(dev.sys, dev.fd, {
        clock: new RealClock(), policy: this._o.refresh === 'dirty' ? 'event' : this._o.refresh, intervalMs: this._o.intervalMs,
      });
      this.displays.push(display);
      this._external.push(dev);
      display.start();
      const name = `device-${i + 1}`;
      this.registry.add({ name, kind: dev.real ? 'real' : 'emulated', description: dev.spec, display });
      log(`${name}: ${dev.spec} (${dev.real ? 'real' : 'emulated'}), display client ${display.mode}, refresh ${display.policy}${display.policyNote ? ` (${display.policyNote})` : ''}`);
    });
    for (const vm of this._o.extraVms ?? []) this.registry.add(vm);
    const vnc = this._o.vnc;
    if (vnc !== undefined) {
      // After every VM is in the registry, so ports follow VM order (PORT, PORT+1, …) as in QEMU.
      const server = this._server;
      // The same limits as the browser viewers: one output budget, one connection gate, rate-limited peer lines.
      this._vnc = new RfbServer({
        vms: this.registry, channels: server, listen: vnc.listen, port: vnc.port, security: vnc.security, log,
        peerLog: (kind, noun, line) => server.peerLog(kind, noun, line), budget: server.budget, gate: server.gate,
      });
      await this._vnc.listen();
      this._server.serveVnc(this._vnc);
    }
  }

  private _labVm(g: GuestVm, display: VfioDisplay): LabVm {
    let buttons = 0;
    let original: MonitorState | undefined;
    return {
      name: g.name, kind: g.kind, uuid: g.uuid,
      description: `${g.vgpu.typeName}, vgpu-os`,
      display,
      sendKey: (code, down) => g.vm.sendKey(code, down),
      sendPointer: (p: PointerInput) => {
        if (p.kind === 'abs') {
          const { width, height } = display.console.size;
          const sx = width > 1 ? ABS_MAX / (width - 1) : 0;
          const sy = height > 1 ? ABS_MAX / (height - 1) : 0;
          g.vm.sendPointer({ x: Math.round(p.x * sx), y: Math.round(p.y * sy) });
        } else {
          g.vm.sendPointer({ dx: p.dx, dy: p.dy });
        }
        // Buttons arrive as a state; the guest takes BTN_* press/release events.
        const changed = buttons ^ p.buttons;
        for (let i = 0; i < BUTTONS.length; i++) {
          if (changed & (1 << i)) g.vm.sendKey(BUTTONS[i]!, (p.buttons & (1 << i)) !== 0);
        }
        buttons = p.buttons;
      },
      // A viewer's size becomes the preferred mode of a new monitor (EDID hotplug), never above
      // the region's max_xres/max_yres; the monitor plugged before the first one comes back when
      // the last viewer leaves.
      requestResize: (w, h) => {
        const m = readMonitor(this.host.kernel, g.fd);
        // A viewer asks for this: the lines are rate-limited like every line a peer can trigger.
        if (typeof m === 'number') return this._server?.peerLog('resize', 'refused resizes', () => `${g.name}: resize to ${w}x${h} refused (EDID region: ${m})`);
        original ??= m;
        const width = m.maxXres > 0 ? Math.min(w, m.maxXres) : w;
        const height = m.maxYres > 0 ? Math.min(h, m.maxYres) : h;
        const r = g.plug({ width, height });
        if (r < 0) this._server?.peerLog('resize', 'refused resizes', () => `${g.name}: resize to ${width}x${height} refused (${r})`);
      },
      lastViewerLeft: () => {
        if (original === undefined || this._o.restoreMode === false || g.vm.exit) return;
        const r = original.edid.byteLength > 0 ? g.plug(original.edid) : g.unplug();
        this._o.log(`${g.name}: last viewer left: ${r < 0 ? `restoring the original monitor failed (${r})` : 'original monitor restored'}`);
        original = undefined;
      },
    };
  }

  /** Stop everything: server first (viewers get a close), then displays, guests, vGPUs. */
  public async stop(): Promise<void> {
    await this._vnc?.close();
    this._vnc = undefined;
    await this._server?.close();
    this._server = undefined;
    for (const d of this.displays) d.dispose();
    for (const dev of this._external) dev.close();
    await Promise.all(this.guests.map((g) => g.stop(1000).catch(() => undefined)));
    for (const g of this.guests) g.dispose();
    this.dispose();
  }
}

