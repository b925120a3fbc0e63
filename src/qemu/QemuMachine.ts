import { Disposable } from '../base/Disposable.ts';
import { QemuSession, type QemuSpec } from './QemuSession.ts';
import { QemuView } from './QemuView.ts';

export interface QemuMachineOptions {
  /** Only this console id (default: every graphic console). */
  readonly console?: number;
  /** Optional listener interfaces to announce (default: Unix.Map and ScanoutDMABUF2). */
  readonly interfaces?: readonly string[];
  readonly log?: (line: string) => void;
  /** Reconnect back-off bounds. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

/**
 * One QEMU behind a `--qemu SPEC`: its graphic consoles as QemuViews (lab VMs), kept across QEMU
 * restarts. When QEMU goes away every view keeps its last picture with status 'vm-stopped' and
 * the machine retries (back-off up to retryMaxMs) until QEMU answers again, then re-attaches the
 * same views.
 */
export class QemuMachine extends Disposable {
  public readonly views: QemuView[] = [];
  public session: QemuSession | undefined;
  public reconnects = 0;
  private _timer: NodeJS.Timeout | undefined;
  private _retryMs: number;

  private constructor(public readonly spec: QemuSpec, public readonly baseName: string, private readonly _o: QemuMachineOptions) {
    super();
    this._retryMs = _o.retryMinMs ?? 100;
  }

  /** Connect and attach; throws (nothing left behind) when QEMU cannot be reached or has no such console. */
  public static async start(spec: QemuSpec, baseName: string, o: QemuMachineOptions = {}): Promise<QemuMachine> {
    const m = new QemuMachine(spec, baseName, o);
    try {
      const s = await QemuSession.open(spec);
      const consoles = o.console !== undefined ? s.consoles.filter((c) => c.id === o.console) : s.graphic;
      if (consoles.length === 0) {
        s.close();
        const have = s.consoles.map((c) => `${c.id} (${c.type} ${c.label})`).join(', ') || 'none';
        throw new RangeError(o.console !== undefined ? `--qemu ${spec.text}: no console ${o.console} (consoles: ${have})` : `--qemu ${spec.text}: no graphic console (consoles: ${have})`);
      }
      consoles.forEach((c, i) => m.views.push(new QemuView(i === 0 ? baseName : `${baseName}.${c.id}`, c, o.interfaces)));
      await m._adopt(s);
      return m;
    } catch (e) {
      m.dispose();
      throw e;
    }
  }

  private async _adopt(s: QemuSession): Promise<void> {
    this.session = s;
    s.onLost((why) => this._lost(s, why));
    try {
      for (const v of this.views) {
        const info = s.consoles.find((c) => c.id === v.info.id);
        if (!info) throw new Error(`console ${v.info.id} is gone after the restart`);
        await v.attach(s, info);
      }
    } catch (e) {
      s.lost((e as Error).message);
      throw e;
    }
  }

  private _lost(s: QemuSession, why: string): void {
    if (this.session !== s || this.isDisposed) return;
    this.session = undefined;
    s.close();
    this._o.log?.(`${this.baseName}: QEMU went away (${why}); reconnecting`);
    for (const v of this.views) v.detach(`QEMU went away: ${why}; reconnecting`);
    this._schedule();
  }

  private _schedule(): void {
    if (this.isDisposed || this._timer) return;
    this._timer = setTimeout(() => {
      this._timer = undefined;
      void this._retry();
    }, this._retryMs);
    this._retryMs = Math.min(this._o.retryMaxMs ?? 2000, this._retryMs * 2);
  }

  private async _retry(): Promise<void> {
    let s: QemuSession;
    try {
      s = await QemuSession.open(this.spec);
    } catch {
      this._schedule();
      return;
    }
    if (this.isDisposed) {
      s.close();
      return;
    }
    try {
      await this._adopt(s);
      this.reconnects++;
      this._retryMs = this._o.retryMinMs ?? 100;
      this._o.log?.(`${this.baseName}: QEMU is back`);
    } catch {
      // _adopt marked the session lost: _lost schedules the next try.
    }
  }

  public override dispose(): void {
    if (this.isDisposed) return;
    clearTimeout(this._timer);
    super.dispose();
    this.session?.close();
    this.session = undefined;
    for (const v of this.views) v.dispose();
  }
}
