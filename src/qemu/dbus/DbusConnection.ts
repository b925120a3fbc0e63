import { Disposable } from '../../base/Disposable.ts';
import { Emitter } from '../../base/Emitter.ts';
import { libc } from '../../linux/Libc.ts';
import {
  DbusWireError, FLAG_NO_REPLY_EXPECTED, MessageFramer, MessageType, encodeMessage, parseSignature,
  type DbusMessage, type OutgoingMessage, type Variant,
} from './DbusWire.ts';
import { SaslClient, SaslServer } from './SaslAuth.ts';
import { UnixSocket } from './UnixSocket.ts';

/** A D-Bus error reply (name + message), thrown by calls and by method handlers. */
export class DbusError extends Error {
  public constructor(public override readonly name: string, message: string) {
    super(message);
  }
}

export const ERR = {
  UnknownMethod: 'org.freedesktop.DBus.Error.UnknownMethod',
  UnknownObject: 'org.freedesktop.DBus.Error.UnknownObject',
  UnknownInterface: 'org.freedesktop.DBus.Error.UnknownInterface',
  UnknownProperty: 'org.freedesktop.DBus.Error.UnknownProperty',
  InvalidArgs: 'org.freedesktop.DBus.Error.InvalidArgs',
  Failed: 'org.freedesktop.DBus.Error.Failed',
  NoReply: 'org.freedesktop.DBus.Error.NoReply',
  Disconnected: 'org.freedesktop.DBus.Error.Disconnected',
} as const;

/** What a handler gets besides its arguments. */
export interface CallContext {
  readonly message: DbusMessage;
  /** Take ownership of the fd an 'h' argument refers to (else the connection closes it). */
  takeFd(index: number): number;
}

export interface MethodSpec {
  /** Input signature: a call with any other signature gets InvalidArgs. */
  readonly in: string;
  readonly out: string;
  readonly fn: (args: unknown[], ctx: CallContext) => unknown[] | void | Promise<unknown[] | void>;
}

export interface ServedInterface {
  readonly methods: Readonly<Record<string, MethodSpec>>;
  /** Property name → variant, read on each Get/GetAll. */
  readonly properties?: () => Record<string, Variant>;
}

export interface ConnectionOptions {
  /** Largest message accepted (default: the spec's 128 MiB). */
  readonly maxMessage?: number;
  /** Calls we make time out after this (default 25 s, as GDBus). */
  readonly callTimeoutMs?: number;
  /** Runs before any message is dispatched (serve objects here: the peer may call at once). */
  readonly setup?: (c: DbusConnection) => void;
}

interface Pending {
  resolve(m: DbusMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

const MAX_PENDING = 4096;

/**
 * One D-Bus connection over a UnixSocket: SASL EXTERNAL (either side), method calls with
 * replies and timeouts, objects served by path + interface (Properties, Peer and Introspectable
 * included), signals out to `onSignal`. A peer that breaks the wire format is disconnected; a
 * call whose arguments do not match the method gets an InvalidArgs error. Fds that arrive with a
 * message are closed after its handler unless taken.
 */
export class DbusConnection extends Disposable {
  private readonly _onSignal = this._register(new Emitter<DbusMessage>());
  public readonly onSignal = this._onSignal.event;
  private readonly _onClose = this._register(new Emitter<string>());
  public readonly onClose = this._onClose.event;
  private readonly _framer: MessageFramer;
  private readonly _pending = new Map<number, Pending>();
  private readonly _objects = new Map<string, Map<string, ServedInterface>>();
  private _serial = 1;
  private _closed = false;
  public closeReason = '';
  public uniqueName = '';
  public unixFds = false;
  /** Messages received and dropped for being invalid (counted, not fatal when only the body is bad). */
  public invalidMessages = 0;
  public messagesIn = 0;

  private constructor(public readonly socket: UnixSocket, private readonly _o: ConnectionOptions) {
    super();
    this._framer = new MessageFramer(_o.maxMessage, (fds) => { for (const fd of fds) libc().close(fd); });
    this._register(socket.onClose((why) => this._closedBy(why)));
  }

  /** Authenticate on `socket` as `role` and resolve when messages can flow. */
  public static open(socket: UnixSocket, role: 'client' | 'server', o: ConnectionOptions = {}): Promise<DbusConnection> {
    const c = new DbusConnection(socket, o);
    o.setup?.(c);
    return new Promise((resolve, reject) => {
      const sasl = role === 'client' ? new SaslClient() : new SaslServer();
      let authed = false;
      const sub = socket.onData(({ data, fds }) => {
        if (authed) {
          c._data(data, fds);
          return;
        }
        for (const fd of fds) libc().close(fd);
        const step = sasl.feed(data);
        for (const line of step.send) socket.write(Buffer.from(line, 'latin1'));
        if (step.error !== undefined) {
          socket.close(`authentication failed: ${step.error}`);
          reject(new Error(`D-Bus authentication failed: ${step.error}`));
          return;
        }
        if (step.done) {
          authed = true;
          c.unixFds = step.done.unixFds;
          resolve(c);
          if (step.done.rest.length > 0) c._data(step.done.rest, []);
        }
      });
      c._register(sub);
      c._register(socket.onClose((why) => { if (!authed) reject(new Error(`D-Bus connection closed during authentication: ${why}`)); }));
      socket.start();
      if (sasl instanceof SaslClient) socket.write(Buffer.from(sasl.start(), 'latin1'));
    });
  }

  /** Connect to a bus address (`unix:path=…` / `unix:abstract=…`, `;`-separated) and say Hello. */
  public static async connectBus(address: string, o: ConnectionOptions = {}): Promise<DbusConnection> {
    const errors: string[] = [];
    for (const entry of address.split(';').filter(Boolean)) {
      const m = /^unix:(.*)$/.exec(entry);
      if (!m) {
        errors.push(`'${entry}': only unix: addresses are supported`);
        continue;
      }
      const kv = new Map(m[1]!.split(',').map((p) => {
        const i = p.indexOf('=');
        return [p.slice(0, i), decodeURIComponent(p.slice(i + 1))] as [string, string];
      }));
      const path = kv.get('path');
      const abs = kv.get('abstract');
      if (path === undefined && abs === undefined) {
        errors.push(`'${entry}': needs path= or abstract=`);
        continue;
      }
      let sock: UnixSocket;
      try {
        sock = UnixSocket.connect(path !== undefined ? { path } : { abstract: abs! });
      } catch (e) {
        errors.push((e as Error).message);
        continue;
      }
      const c = await DbusConnection.open(sock, 'client', o);
      try {
        const r = await c.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' });
        c.uniqueName = r.body[0] as string;
      } catch (e) {
        c.close();
        throw e;
      }
      return c;
    }
    throw new Error(`cannot connect to D-Bus address '${address}': ${errors.join('; ') || 'empty address'}`);
  }

  public get closed(): boolean {
    return this._closed;
  }

  /** Serve `iface` at `path` (replaces an earlier one). */
  public serve(path: string, iface: string, impl: ServedInterface): void {
    for (const spec of Object.values(impl.methods)) { parseSignature(spec.in); parseSignature(spec.out); }
    let m = this._objects.get(path);
    if (!m) this._objects.set(path, (m = new Map()));
    m.set(iface, impl);
  }

  /** Send without waiting for a reply (signals, NO_REPLY_EXPECTED calls). */
  public send(m: OutgoingMessage): number {
    if (this._closed) return 0;
    const serial = this._nextSerial();
    const { bytes, fds } = encodeMessage(m, serial);
    if (fds.length > 0 && !this.unixFds) throw new DbusError(ERR.Failed, 'this connection did not negotiate fd passing');
    this.socket.write(bytes, fds);
    return serial;
  }

  /** Call a method; resolves with the reply, rejects with a DbusError. */
  public call(m: Omit<OutgoingMessage, 'type'>, timeoutMs = this._o.callTimeoutMs ?? 25_000): Promise<DbusMessage> {
    if (this._closed) return Promise.reject(new DbusError(ERR.Disconnected, `connection closed: ${this.closeReason}`));
    if (this._pending.size >= MAX_PENDING) return Promise.reject(new DbusError(ERR.Failed, 'too many calls pending'));
    return new Promise((resolve, reject) => {
      let serial: number;
      try {
        serial = this.send({ ...m, type: MessageType.METHOD_CALL });
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => {
        this._pending.delete(serial);
        reject(new DbusError(ERR.NoReply, `${m.interface ?? ''}.${m.member ?? ''}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this._pending.set(serial, { resolve, reject, timer });
    });
  }

  /** Ask the bus to route matching signals to us. */
  public async addMatch(rule: string): Promise<void> {
    await this.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] });
  }

  private _nextSerial(): number {
    const s = this._serial;
    this._serial = this._serial >= 0xffffffff ? 1 : this._serial + 1;
    return s;
  }

  private _data(data: Uint8Array, fds: number[]): void {
    if (this._closed) {
      for (const fd of fds) libc().close(fd);
      return;
    }
    let msgs: DbusMessage[];
    try {
      msgs = this._framer.push(data, fds);
    } catch (e) {
      if (!(e instanceof DbusWireError)) throw e;
      this.invalidMessages++;
      this.close(`invalid message from peer: ${e.message}`);
      return;
    }
    for (const m of msgs) {
      this.messagesIn++;
      try {
        this._dispatch(m);
      } finally {
        for (const fd of m.fds) if (fd >= 0) libc().close(fd);
      }
    }
  }

  private _dispatch(m: DbusMessage): void {
    if (m.type === MessageType.METHOD_RETURN || m.type === MessageType.ERROR) {
      const p = this._pending.get(m.replySerial!);
      if (!p) return;
      this._pending.delete(m.replySerial!);
      clearTimeout(p.timer);
      if (m.bodyError !== undefined) {
        this.invalidMessages++;
        p.reject(new DbusError(ERR.InvalidArgs, `invalid reply: ${m.bodyError}`));
      } else if (m.type === MessageType.ERROR) {
        p.reject(new DbusError(m.errorName!, typeof m.body[0] === 'string' ? m.body[0] : m.errorName!));
      } else {
        p.resolve(m);
      }
      return;
    }
    if (m.type === MessageType.SIGNAL) {
      if (m.bodyError !== undefined) {
        this.invalidMessages++;
        return;
      }
      this._onSignal.fire(m);
      return;
    }
    this._methodCall(m);
  }

  private _reply(m: DbusMessage, sig: string, body: readonly unknown[]): void {
    if (m.flags & FLAG_NO_REPLY_EXPECTED) return;
    try {
      this.send({ type: MessageType.METHOD_RETURN, replySerial: m.serial, destination: m.sender, signature: sig, body });
    } catch (e) {
      this._error(m, ERR.Failed, `reply could not be encoded: ${(e as Error).message}`);
    }
  }

  private _error(m: DbusMessage, name: string, text: string): void {
    if (m.flags & FLAG_NO_REPLY_EXPECTED) return;
    this.send({ type: MessageType.ERROR, replySerial: m.serial, destination: m.sender, errorName: name, signature: 's', body: [text] });
  }

  private _methodCall(m: DbusMessage): void {
    if (m.bodyError !== undefined) {
      this.invalidMessages++;
      this._error(m, ERR.InvalidArgs, `invalid arguments: ${m.bodyError}`);
      return;
    }
    const obj = this._objects.get(m.path!);
    const iface = m.interface;
    if (iface === 'org.freedesktop.DBus.Peer') {
      if (m.member === 'Ping' && m.signature === '') return this._reply(m, '', []);
      if (m.member === 'GetMachineId' && m.signature === '') return this._error(m, ERR.Failed, 'no machine id');
    }
    if (!obj) return this._error(m, ERR.UnknownObject, `no object at ${m.path}`);
    if (iface === 'org.freedesktop.DBus.Properties') return this._properties(m, obj);
    if (iface === 'org.freedesktop.DBus.Introspectable' && m.member === 'Introspect') return this._reply(m, 's', [introspect(obj)]);
    let impl: ServedInterface | undefined;
    if (iface !== undefined) impl = obj.get(iface);
    else for (const i of obj.values()) if (i.methods[m.member!]) { impl = i; break; }
    if (!impl) return this._error(m, ERR.UnknownInterface, `no interface ${iface} at ${m.path}`);
    const spec = Object.hasOwn(impl.methods, m.member!) ? impl.methods[m.member!] : undefined;
    if (!spec) return this._error(m, ERR.UnknownMethod, `no method ${m.member} in ${iface}`);
    if (m.signature !== spec.in) return this._error(m, ERR.InvalidArgs, `${m.member} takes '${spec.in}', got '${m.signature}'`);
    const ctx: CallContext = {
      message: m,
      takeFd: (i) => {
        const fd = m.fds[i];
        if (fd === undefined || fd < 0) throw new DbusError(ERR.InvalidArgs, `no fd at index ${i}`);
        m.fds[i] = -1;
        return fd;
      },
    };
    const done = (out: unknown[] | void): void => this._reply(m, spec.out, out ?? []);
    const fail = (e: unknown): void => {
      if (e instanceof DbusError) this._error(m, e.name, e.message);
      else this._error(m, ERR.Failed, e instanceof Error ? e.message : String(e));
    };
    try {
      const r = spec.fn(m.body, ctx);
      if (r instanceof Promise) r.then(done, fail);
      else done(r);
    } catch (e) {
      fail(e);
    }
  }

  private _properties(m: DbusMessage, obj: Map<string, ServedInterface>): void {
    const props = (name: string): Record<string, Variant> | undefined => obj.get(name)?.properties?.() ?? (obj.has(name) ? {} : undefined);
    if (m.member === 'GetAll' && m.signature === 's') {
      const p = props(m.body[0] as string);
      if (!p) return this._error(m, ERR.UnknownInterface, `no interface ${String(m.body[0])}`);
      return this._reply(m, 'a{sv}', [Object.entries(p)]);
    }
    if (m.member === 'Get' && m.signature === 'ss') {
      const p = props(m.body[0] as string);
      const v = p?.[m.body[1] as string];
      if (!v) return this._error(m, ERR.UnknownProperty, `no property ${String(m.body[1])}`);
      return this._reply(m, 'v', [v]);
    }
    if (m.member === 'Set' && m.signature === 'ssv') return this._error(m, ERR.Failed, 'properties are read-only');
    return this._error(m, ERR.InvalidArgs, `Properties.${m.member} with '${m.signature}'`);
  }

  private _closedBy(why: string): void {
    if (this._closed) return;
    this._closed = true;
    this.closeReason = why;
    for (const fd of this._framer.drainFds()) libc().close(fd);
    for (const p of this._pending.values()) {
      clearTimeout(p.timer);
      p.reject(new DbusError(ERR.Disconnected, `connection closed: ${why}`));
    }
    this._pending.clear();
    this._onClose.fire(why);
    this.dispose();
  }

  public close(why = 'closed by us'): void {
    this.socket.close(why);
    this._closedBy(why);
  }
}

function introspect(obj: Map<string, ServedInterface>): string {
  const args = (sig: string, dir: string): string => parseSignature(sig).map((t) => `<arg type="${t.sig}" direction="${dir}"/>`).join('');
  const ifaces = [...obj].map(([name, i]) => `<interface name="${name}">${Object.entries(i.methods).map(([mn, s]) => `<method name="${mn}">${args(s.in, 'in')}${args(s.out, 'out')}</method>`).join('')}</interface>`);
  return `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>${ifaces.join('')}</node>\n`;
}
