import { Disposable, toDisposable, type IDisposable } from '../base/Disposable.ts';
import { DisplayConsole } from '../display/DisplayConsole.ts';
import type { LabVm, PointerInput } from '../server/VmRegistry.ts';
import { DbusConnection, DbusError } from './dbus/DbusConnection.ts';
import type { Variant } from './dbus/DbusWire.ts';
import { UnixSocket, socketPair } from './dbus/UnixSocket.ts';
import { libc } from '../linux/Libc.ts';
import { QemuListener } from './QemuListener.ts';
import { evdevToQnum } from '../protocol/Qnum.ts';
import { consolePath, type ConsoleInfo, type QemuSession } from './QemuSession.ts';

/** QEMU's InputButton numbers (qapi/ui.json), as org.qemu.Display1.Mouse.Press takes them. */
const BTN = { left: 0, middle: 1, right: 2, wheelUp: 3, wheelDown: 4 } as const;
/** PointerInput button bits (0 left, 1 right, 2 middle) → QEMU buttons. */
const BUTTON_BITS = [BTN.left, BTN.right, BTN.middle] as const;

/** Pointer input, plus a wheel the QEMU path takes (positive = away from the user). */
export type QemuPointer = PointerInput & { readonly wheel?: number };

export interface InputStats {
  keys: number;
  pointer: number;
  resizes: number;
  /** Input calls QEMU answered with an error (e.g. SetAbsPosition on a relative mouse). */
  errors: number;
  lastError: string;
}

/**
 * One QEMU console as a lab VM: a DisplayConsole fed by a QemuListener (registered on a fresh
 * socketpair per attach) and input sent back as Keyboard/Mouse/SetUIInfo calls. The console
 * outlives sessions: when QEMU goes away the last picture stays with status 'vm-stopped', and a
 * later `attach` (QEMU back) picks up on the same console.
 */
export class QemuView extends Disposable implements LabVm {
  public readonly kind = 'qemu';
  public readonly console = this._register(new DisplayConsole());
  public readonly display = { console: this.console };
  public readonly listener: QemuListener;
  public readonly input: InputStats = { keys: 0, pointer: 0, resizes: 0, errors: 0, lastError: '' };
  public description: string;
  /** Listener registrations (the first plus re-registers for 7.2's silent resizes). */
  public registrations = 0;
  /** Milliseconds from RegisterListener to its reply, and to the first Scanout after it. */
  public lastRegisterMs = 0;
  private _session: QemuSession | undefined;
  private _info: ConsoleInfo;
  private _lconn: DbusConnection | undefined;
  private _reattaching = false;
  private _buttons = 0;
  private _abs = { x: 0, y: 0 };
  private _sessionSub: IDisposable | undefined;

  public constructor(public readonly name: string, info: ConsoleInfo, optionalInterfaces?: readonly string[]) {
    super();
    this._info = info;
    this.description = '';
    this.listener = this._register(new QemuListener(this.console, optionalInterfaces));
    this._register(this.listener.onOutOfBounds(() => this._reattach('an Update outside the last Scanout')));
    this._register(toDisposable(() => this._closeListener()));
  }

  public get info(): ConsoleInfo {
    return this._info;
  }

  public get uuid(): string | undefined {
    return this._session?.vmUuid || undefined;
  }

  /** Register our listener for this console on `session`. Throws when QEMU refuses. */
  public async attach(session: QemuSession, info: ConsoleInfo): Promise<void> {
    this._session = session;
    this._info = info;
    this.description = `${session.vmName}, console ${info.id} ${info.label}${info.deviceAddress ? ` (${info.deviceAddress})` : ''}, ${session.spec.kind === 'qmp' ? 'p2p' : 'bus'}`;
    this._sessionSub?.dispose();
    const path = consolePath(info.id);
    this._sessionSub = session.conn.onSignal((m) => {
      if (m.path !== path || m.member !== 'PropertiesChanged' || m.signature !== 'sa{sv}as') return;
      const changed = new Map((m.body[1] as [string, Variant][]).map(([k, v]) => [k, v.value]));
      if (changed.has('IsAbsolute')) this._info = { ...this._info, absoluteMouse: changed.get('IsAbsolute') === true };
      const w = changed.get('Width') as number | undefined;
      const h = changed.get('Height') as number | undefined;
      const cur = this.listener.size;
      // 7.2 changes size without a Scanout in text mode: the property says so, re-register.
      if (w !== undefined && h !== undefined && cur.width > 0 && (w !== cur.width || h !== cur.height)) {
        this._info = { ...this._info, width: w, height: h };
        this._reattach(`Console size ${w}x${h} without a Scanout`);
      }
    });
    await this._register1();
  }

  private async _register1(): Promise<void> {
    const session = this._session!;
    this._closeListener();
    const [ours, theirs] = socketPair();
    const lconnP = DbusConnection.open(new UnixSocket(ours), 'client', { setup: (c) => this.listener.serveOn(c) });
    lconnP.catch(() => undefined);
    const t0 = performance.now();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await session.call({ path: consolePath(this._info.id), interface: 'org.qemu.Display1.Console', member: 'RegisterListener', signature: 'h', body: [theirs] });
          break;
        } catch (e) {
          // QEMU drops our previous listener when it notices its socket closed: retry briefly.
          if (!(e instanceof DbusError) || !/already registered/.test(e.message) || attempt >= 40) throw e;
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    } catch (e) {
      void lconnP.then((c) => c.close());
      throw e;
    } finally {
      libc().close(theirs);
    }
    this.lastRegisterMs = performance.now() - t0;
    const lconn = await lconnP;
    this._lconn = lconn;
    this.registrations++;
    lconn.onClose((why) => {
      if (this._lconn !== lconn) return;
      this._lconn = undefined;
      // QEMU closed the listener (it is going away, or it dropped us): the session decides.
      session.lost(`listener connection closed: ${why}`);
    });
  }

  private _reattach(why: string): void {
    if (this._reattaching || !this._session || this._session.isLost || this.isDisposed) return;
    this._reattaching = true;
    void this._register1().catch((e: Error) => {
      this.input.lastError = `re-register after ${why}: ${e.message}`;
    }).finally(() => { this._reattaching = false; });
  }

  private _closeListener(): void {
    const c = this._lconn;
    this._lconn = undefined;
    c?.close('re-registering');
  }

  /** QEMU went away: keep the picture, say why. */
  public detach(why: string): void {
    this._closeListener();
    this._sessionSub?.dispose();
    this._sessionSub = undefined;
    this._session = undefined;
    this.console.setStatus('vm-stopped', why);
  }

  /** Input calls sent and not answered yet. */
  public pendingInput = 0;

  private _call(iface: string, member: string, signature: string, body: unknown[]): void {
    const s = this._session;
    if (!s || s.isLost) return;
    this.pendingInput++;
    s.call({ path: consolePath(this._info.id), interface: `org.qemu.Display1.${iface}`, member, signature, body }).catch((e: Error) => {
      this.input.errors++;
      this.input.lastError = `${iface}.${member}: ${e.message}`;
    }).finally(() => { this.pendingInput--; });
  }

  public sendKey(code: number, down: boolean): void {
    const q = evdevToQnum(code);
    if (q === undefined) return;
    this.input.keys++;
    this._call('Keyboard', down ? 'Press' : 'Release', 'u', [q]);
  }

  public sendPointer(p: QemuPointer): void {
    this.input.pointer++;
    if (p.kind === 'abs') {
      const { width, height } = this.console.size;
      const x = Math.max(0, Math.min(Math.max(0, width - 1), Math.round(p.x)));
      const y = Math.max(0, Math.min(Math.max(0, height - 1), Math.round(p.y)));
      if (this._info.absoluteMouse) this._call('Mouse', 'SetAbsPosition', 'uu', [x, y]);
      // A relative mouse (PS/2) follows the viewer's absolute pointer by deltas.
      else if (x !== this._abs.x || y !== this._abs.y) this._call('Mouse', 'RelMotion', 'ii', [x - this._abs.x, y - this._abs.y]);
      this._abs = { x, y };
    } else if (p.dx !== 0 || p.dy !== 0) {
      this._call('Mouse', 'RelMotion', 'ii', [Math.trunc(p.dx), Math.trunc(p.dy)]);
    }
    const changed = this._buttons ^ p.buttons;
    for (let i = 0; i < BUTTON_BITS.length; i++) {
      if (changed & (1 << i)) this._call('Mouse', p.buttons & (1 << i) ? 'Press' : 'Release', 'u', [BUTTON_BITS[i]]);
    }
    this._buttons = p.buttons & 7;
    const wheel = Math.max(-16, Math.min(16, Math.trunc(p.wheel ?? 0)));
    for (let i = 0; i < Math.abs(wheel); i++) {
      const b = wheel > 0 ? BTN.wheelUp : BTN.wheelDown;
      this._call('Mouse', 'Press', 'u', [b]);
      this._call('Mouse', 'Release', 'u', [b]);
    }
  }

  public requestResize(width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 16384 || height > 16384) return;
    this.input.resizes++;
    // Millimetres at 96 DPI: the guest only uses them for its DPI guess.
    const mm = (px: number): number => Math.min(0xffff, Math.round((px * 25.4) / 96));
    this._call('Console', 'SetUIInfo', 'qqiiuu', [mm(width), mm(height), 0, 0, width, height]);
  }
}
