import { Disposable, toDisposable, type IDisposable } from '../base/Disposable.ts';
import { DisplayConsole } from '../display/DisplayConsole.ts';
import type { LabVm, PointerInput } from '../server/VmRegistry.ts';
import { DbusConnection, DbusError } from './dbus/DbusConnection.ts';
import type { Variant } from './dbus/DbusWire.ts';
import { UnixSocket, socketPair } from './dbus/UnixSocket.ts';
import { libc } from '../linux/Libc.ts';
import { QemuListener } from './QemuListener.ts';
import { QemuInput, type InputStats, type QemuPointer } from './QemuInput.ts';
import { consolePath, type ConsoleInfo, type QemuSession } from './QemuSession.ts';

export type { QemuPointer, InputStats } from './QemuInput.ts';

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
  /** Keyboard and mouse to QEMU, paced (QemuInput). */
  private readonly _input = new QemuInput(
    (iface, member, signature, body) => this._call(iface, member, signature, body),
    () => ({ ...this.console.size, absolute: this._info.absoluteMouse }),
  );
  public description: string;
  /** Listener registrations (the first plus re-registers for 7.2's silent resizes). */
  public registrations = 0;
  /** Milliseconds from RegisterListener to its reply, and to the first Scanout after it. */
  public lastRegisterMs = 0;
  private _session: QemuSession | undefined;
  private _info: ConsoleInfo;
  private _lconn: DbusConnection | undefined;
  private _reattaching = false;
  private _sessionSub: IDisposable | undefined;

  public constructor(public readonly name: string, info: ConsoleInfo, optionalInterfaces?: readonly string[]) {
    super();
    this._info = info;
    this.description = '';
    this.listener = this._register(new QemuListener(this.console, optionalInterfaces));
    this._register(this.listener.onOutOfBounds(() => this._reattach('an Update outside the last Scanout')));
    this._register(toDisposable(() => {
      this._input.clear();
      this._closeListener();
    }));
  }

  public get input(): InputStats {
    return this._input.stats;
  }

  /** Input calls queued or not answered yet. */
  public get pendingInput(): number {
    return this._input.pending;
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
    this._input.clear();
    this.console.setStatus('vm-stopped', why);
  }

  private _call(iface: string, member: string, signature: string, body: unknown[]): Promise<unknown> {
    const s = this._session;
    if (!s || s.isLost) return Promise.reject(new Error('QEMU is not connected'));
    return s.call({ path: consolePath(this._info.id), interface: `org.qemu.Display1.${iface}`, member, signature, body });
  }

  public sendKey(code: number, down: boolean): void {
    if (this._session) this._input.key(code, down);
  }

  public sendPointer(p: QemuPointer): void {
    if (this._session) this._input.pointer(p);
  }

  public requestResize(width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 16384 || height > 16384) return;
    this.input.resizes++;
    // Millimetres at 96 DPI: the guest only uses them for its DPI guess.
    const mm = (px: number): number => Math.min(0xffff, Math.round((px * 25.4) / 96));
    // Not paced: a mode hint, not a PS/2 byte stream.
    this._call('Console', 'SetUIInfo', 'qqiiuu', [mm(width), mm(height), 0, 0, width, height]).catch((e: Error) => {
      this.input.resizeErrors++;
      this.input.lastError = `Console.SetUIInfo: ${e.message}`;
    });
  }
}
