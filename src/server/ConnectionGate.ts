import type { Server, Socket } from 'node:net';

export interface ConnectionGateOptions {
  /** TCP connections open at once, authenticated or not. Default 512. */
  readonly maxConnections?: number;
  /** Connections from one peer address at once. Default 32. */
  readonly maxPerAddress?: number;
  /** Connections that have not yet been admitted by a request or upgrade. Default 64. */
  readonly maxPending?: number;
  /** A connection must be admitted within this many ms or it is closed. Default 10 000. */
  readonly pendingDeadlineMs?: number;
  /** Told about each refused or evicted connection (rate-limit it: any peer can trigger it). */
  readonly onRefuse?: (why: RefuseReason, address: string) => void;
}

export type RefuseReason = 'total' | 'per-address' | 'pending-evicted' | 'deadline';

export interface ConnectionGateStats {
  readonly open: number;
  readonly pending: number;
  readonly refusedTotal: number;
  readonly refusedPerAddress: number;
  readonly evicted: number;
  readonly timedOut: number;
}

interface Entry {
  readonly socket: Socket;
  readonly address: string;
  pending: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Bounds TCP connections before any byte is parsed: in total, per peer address, and — for
 * connections that have not yet shown a valid request or upgrade — in number and in time. When
 * the pending set is full the oldest pending connection makes room (an idle attacker socket, not
 * the viewer that just connected), so idle or slow pre-auth sockets from any number of addresses
 * can never lock an authenticated viewer out or exhaust the process's file descriptors.
 */
export class ConnectionGate {
  private readonly _max: number;
  private readonly _perAddress: number;
  private readonly _maxPending: number;
  private readonly _deadline: number;
  private readonly _onRefuse: (why: RefuseReason, address: string) => void;
  private readonly _entries = new Map<Socket, Entry>();
  /** Pending entries in arrival order (a Set iterates in insertion order). */
  private readonly _pending = new Set<Entry>();
  private readonly _byAddress = new Map<string, number>();
  private _refusedTotal = 0;
  private _refusedPerAddress = 0;
  private _evicted = 0;
  private _timedOut = 0;

  public constructor(opts: ConnectionGateOptions = {}) {
    this._max = opts.maxConnections ?? 512;
    this._perAddress = opts.maxPerAddress ?? 32;
    this._maxPending = opts.maxPending ?? 64;
    this._deadline = opts.pendingDeadlineMs ?? 10_000;
    this._onRefuse = opts.onRefuse ?? (() => {});
    for (const [name, v] of [['maxConnections', this._max], ['maxPerAddress', this._perAddress],
      ['maxPending', this._maxPending], ['pendingDeadlineMs', this._deadline]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }

  /** Gate every connection `server` accepts (HTTP, HTTPS, WebSocket or RFB). */
  public attach(server: Server): void {
    server.on('connection', (s: Socket) => this.admit(s));
  }

  public get stats(): ConnectionGateStats {
    return {
      open: this._entries.size, pending: this._pending.size, refusedTotal: this._refusedTotal,
      refusedPerAddress: this._refusedPerAddress, evicted: this._evicted, timedOut: this._timedOut,
    };
  }

  /** Take or refuse a new connection. Returns false when it was closed at once. */
  public admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '?';
    if ((this._byAddress.get(address) ?? 0) >= this._perAddress) {
      this._refusedPerAddress++;
      this._onRefuse('per-address', address);
      socket.destroy();
      return false;
    }
    if (this._entries.size >= this._max && !this._evictOldestPending()) {
      this._refusedTotal++;
      this._onRefuse('total', address);
      socket.destroy();
      return false;
    }
    if (this._pending.size >= this._maxPending) this._evictOldestPending();
    const e: Entry = { socket, address, pending: true, timer: undefined };
    e.timer = setTimeout(() => {
      if (!e.pending) return;
      this._timedOut++;
      this._onRefuse('deadline', address);
      socket.destroy();
    }, this._deadline);
    e.timer.unref?.();
    this._entries.set(socket, e);
    this._pending.add(e);
    this._byAddress.set(address, (this._byAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this._forget(e));
    return true;
  }

  /** The connection showed a valid request or upgrade: no deadline, no eviction any more. */
  public promote(socket: Socket | undefined): void {
    const e = socket === undefined ? undefined : this._entries.get(socket);
    if (e === undefined || !e.pending) return;
    e.pending = false;
    this._pending.delete(e);
    if (e.timer !== undefined) clearTimeout(e.timer);
    e.timer = undefined;
  }

  /** Is this connection still waiting to be admitted? */
  public isPending(socket: Socket): boolean {
    return this._entries.get(socket)?.pending === true;
  }

  private _evictOldestPending(): boolean {
    const oldest = this._pending.values().next();
    if (oldest.done === true) return false;
    this._evicted++;
    this._onRefuse('pending-evicted', oldest.value.address);
    this._forget(oldest.value);
    oldest.value.socket.destroy();
    return true;
  }

  private _forget(e: Entry): void {
    if (!this._entries.delete(e.socket)) return;
    this._pending.delete(e);
    if (e.timer !== undefined) clearTimeout(e.timer);
    const n = (this._byAddress.get(e.address) ?? 1) - 1;
    if (n <= 0) this._byAddress.delete(e.address);
    else this._byAddress.set(e.address, n);
  }
}
