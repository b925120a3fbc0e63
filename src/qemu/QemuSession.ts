import { Disposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import { libc } from '../linux/Libc.ts';
import { DbusConnection } from './dbus/DbusConnection.ts';
import type { DbusMessage, OutgoingMessage, Variant } from './dbus/DbusWire.ts';
import { UnixSocket, socketPair } from './dbus/UnixSocket.ts';
import { Qmp } from './Qmp.ts';

/** `--qemu SPEC`: a bus address (`dbus:unix:path=…`) or a QMP socket for a p2p connection. */
export type QemuSpec =
  | { readonly kind: 'dbus'; readonly address: string; readonly text: string }
  | { readonly kind: 'qmp'; readonly path: string; readonly text: string };

/** Parse SPEC; throws RangeError with the accepted forms. */
export function parseQemuSpec(text: string): QemuSpec {
  const m = /^(dbus|qmp):(.+)$/.exec(text);
  if (m?.[1] === 'dbus' && /^unix:(path|abstract)=/.test(m[2]!)) return { kind: 'dbus', address: m[2]!, text };
  if (m?.[1] === 'qmp') return { kind: 'qmp', path: m[2]!.replace(/^unix:/, '').replace(/,.*$/, ''), text };
  throw new RangeError(`--qemu ${text}: expected dbus:unix:path=BUS-SOCKET (QEMU's -display dbus on that bus) or qmp:QMP-SOCKET (QEMU's -display dbus,p2p=yes)`);
}

export const DISPLAY_BUS_NAME = 'org.qemu';
const VM_PATH = '/org/qemu/Display1/VM';
export const consolePath = (id: number): string => `/org/qemu/Display1/Console_${id}`;

/** One console as QEMU describes it on org.qemu.Display1.Console (+ Mouse). */
export interface ConsoleInfo {
  readonly id: number;
  readonly label: string;
  readonly head: number;
  readonly type: string;
  readonly width: number;
  readonly height: number;
  readonly deviceAddress: string;
  /** The Console's `Interfaces` property (newer QEMU); null when QEMU (7.2) has none. */
  readonly interfaces: readonly string[] | null;
  readonly absoluteMouse: boolean;
}

function props(m: DbusMessage): Map<string, unknown> {
  return new Map((m.body[0] as [string, Variant][]).map(([k, v]) => [k, v.value]));
}

/**
 * One live connection to a QEMU D-Bus display: on its bus (destination org.qemu) or peer to peer
 * (QMP getfd + add_client hands QEMU one end of a socketpair; QEMU is the SASL server on it).
 * `onLost` fires once when QEMU went away (p2p socket closed, or org.qemu lost its owner).
 */
export class QemuSession extends Disposable {
  private readonly _onLost = this._register(new Emitter<string>());
  public readonly onLost = this._onLost.event;
  public vmName = '';
  public vmUuid = '';
  public consoles: ConsoleInfo[] = [];
  private _lost = false;

  private constructor(public readonly spec: QemuSpec, public readonly conn: DbusConnection, public readonly destination: string | undefined) {
    super();
    this._register(conn.onClose((why) => this.lost(`D-Bus connection closed: ${why}`)));
  }

  public static async open(spec: QemuSpec): Promise<QemuSession> {
    let conn: DbusConnection;
    if (spec.kind === 'dbus') {
      conn = await DbusConnection.connectBus(spec.address, { callTimeoutMs: 10_000 });
      const has = await conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameHasOwner', signature: 's', body: [DISPLAY_BUS_NAME] });
      if (has.body[0] !== true) {
        conn.close();
        throw new Error(`no QEMU D-Bus display on ${spec.address} (nobody owns ${DISPLAY_BUS_NAME}; is QEMU running with -display dbus on this bus?)`);
      }
    } else {
      const qmp = await Qmp.connect(spec.path);
      const [ours, theirs] = socketPair();
      try {
        await qmp.execute('getfd', { fdname: 'vgpu-display' }, [theirs]);
        await qmp.execute('add_client', { protocol: '@dbus-display', fdname: 'vgpu-display' }).catch((e: Error) => {
          throw new Error(`${spec.path}: QEMU ${qmp.version} has no D-Bus display to add a client to (${e.message}; start it with -display dbus,p2p=yes)`);
        });
      } catch (e) {
        libc().close(ours);
        throw e;
      } finally {
        libc().close(theirs);
        qmp.close();
      }
      conn = await DbusConnection.open(new UnixSocket(ours), 'client', { callTimeoutMs: 10_000 });
    }
    const s = new QemuSession(spec, conn, spec.kind === 'dbus' ? DISPLAY_BUS_NAME : undefined);
    try {
      await s._describe();
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  public call(m: Omit<OutgoingMessage, 'type' | 'destination'>): Promise<DbusMessage> {
    return this.conn.call({ ...m, destination: this.destination });
  }

  public async getAll(path: string, iface: string): Promise<Map<string, unknown>> {
    return props(await this.call({ path, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [iface] }));
  }

  private async _describe(): Promise<void> {
    if (this.spec.kind === 'dbus') {
      // QEMU leaving the bus is seen as org.qemu losing its owner; console size changes as
      // PropertiesChanged (p2p peers get both without asking).
      await this.conn.addMatch(`type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${DISPLAY_BUS_NAME}'`);
      await this.conn.addMatch(`type='signal',sender='${DISPLAY_BUS_NAME}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'`);
      this._register(this.conn.onSignal((m) => {
        if (m.member === 'NameOwnerChanged' && m.body[0] === DISPLAY_BUS_NAME && m.body[2] === '') this.lost(`${DISPLAY_BUS_NAME} left the bus`);
      }));
    }
    const vm = await this.getAll(VM_PATH, 'org.qemu.Display1.VM');
    this.vmName = String(vm.get('Name') ?? 'QEMU');
    this.vmUuid = String(vm.get('UUID') ?? '');
    const ids = (vm.get('ConsoleIDs') as number[] | undefined) ?? [];
    this.consoles = [];
    for (const id of ids.slice(0, 64)) {
      const c = await this.getAll(consolePath(id), 'org.qemu.Display1.Console');
      let abs = false;
      try {
        abs = (await this.getAll(consolePath(id), 'org.qemu.Display1.Mouse')).get('IsAbsolute') === true;
      } catch {
        // A console without a mouse (text consoles).
      }
      this.consoles.push({
        id, label: String(c.get('Label') ?? ''), head: Number(c.get('Head') ?? 0), type: String(c.get('Type') ?? ''),
        width: Number(c.get('Width') ?? 0), height: Number(c.get('Height') ?? 0), deviceAddress: String(c.get('DeviceAddress') ?? ''),
        interfaces: (c.get('Interfaces') as string[] | undefined) ?? null, absoluteMouse: abs,
      });
    }
  }

  /** The graphic consoles (the ones that become views). */
  public get graphic(): ConsoleInfo[] {
    return this.consoles.filter((c) => c.type === 'Graphic');
  }

  public get isLost(): boolean {
    return this._lost;
  }

  public lost(why: string): void {
    if (this._lost) return;
    this._lost = true;
    this._onLost.fire(why);
  }

  public close(): void {
    this._lost = true;
    this.conn.close();
    this.dispose();
  }
}
