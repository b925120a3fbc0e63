import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { constants as zc, createDeflate, type Deflate } from 'node:zlib';
import type { WebSocket } from 'ws';
import type { IDisposable } from '../base/Disposable.ts';
import type { ConnectionGate } from '../server/ConnectionGate.ts';
import type { BudgetAccount, OutputBudget } from '../server/OutputBudget.ts';
import type { VmChannel } from '../server/VmChannel.ts';
import type { LabVm, VmRegistry } from '../server/VmRegistry.ts';
import { RfbClient, type Deflater, type RfbOutput } from './RfbClient.ts';
import { RfbConnection, type RfbSecurity } from './RfbConnection.ts';
import { RfbScreen } from './RfbScreen.ts';
import { startServerTls, type TlsUpgrade } from './VeNCrypt.ts';

/** Where VM channels come from: the lab server owns one per watched VM. */
export interface ChannelHost {
  channelFor(vm: LabVm): VmChannel;
  channelUnused(channel: VmChannel): void;
}

export interface RfbServerOptions {
  readonly vms: VmRegistry;
  readonly channels: ChannelHost;
  /** Address for the per-VM TCP listeners. Default 127.0.0.1. */
  readonly listen?: string;
  /** First port: VM i (in registry order) gets port + i. 0: each VM gets a free port (tests). */
  readonly port?: number;
  /** On the TCP ports. The WebSocket path gets its inner part (VeNCrypt's TLS is wss there). */
  readonly security: RfbSecurity;
  /** VeNCrypt: a client that has not finished its TLS handshake this long after the ack is closed. Default 10 000 ms. */
  readonly tlsHandshakeMs?: number;
  /** VNC clients at once, over all VMs (TCP and WebSocket). Default 128. */
  readonly maxClients?: number;
  /** Bytes waiting in one client's socket before no more updates are built. Default 2 MiB. */
  readonly highWater?: number;
  /** A client whose socket has not drained for this long is closed. Default 10 000 ms. */
  readonly stallMs?: number;
  readonly log?: (line: string) => void;
  /** Lines a peer can trigger, rate-limited (the lab server's `peerLog`). Default: `log`. */
  readonly peerLog?: (kind: string, noun: string, line: () => string) => void;
  /** The total bound on queued output shared with the browser viewers (the lab server's). */
  readonly budget?: OutputBudget;
  /** Total, per-address and pre-handshake connection limits (the lab server's gate). */
  readonly gate?: ConnectionGate;
}

interface Listener {
  readonly vm: LabVm;
  readonly server: Server;
  port: number;
}

interface Live {
  readonly vm: LabVm;
  zlib: Deflate | undefined;
  readonly conn: RfbConnection;
  client: RfbClient | undefined;
  readonly output: RfbOutput & { drained(): void };
  readonly remote: string;
  close(reason: string, hard?: boolean): void;
}

/** What a connection's bytes travel over (a TCP socket, maybe TLS inside, or a WebSocket). */
interface Io {
  write(b: Uint8Array, flushed: () => void): void;
  readonly buffered: number;
  close(hard: boolean): void;
  startTls?(pending: Uint8Array): void;
}

/**
 * The security the WebSocket path offers for the TCP ports' `s`: noVNC has no TLS inside RFB, and
 * `/vnc/<vm>` is already behind the lab's token and, with --tls-cert, wss (QEMU's websocket does
 * the same: TLS at the WebSocket layer, the inner authentication inside).
 */
function webSocketSecurity(s: RfbSecurity): RfbSecurity {
  if (s.type !== 'vencrypt') return s;
  return s.password === undefined ? { type: 'none' } : { type: 'vnc', password: s.password };
}

/** On a graceful close: at most this much still queued is sent, for at most this long. */
const CLOSE_FLUSH_BYTES = 64 * 1024;
const CLOSE_GRACE_MS = 5_000;

/** zlib for ZRLE: one stream per connection, each rectangle ended with a sync flush. */
function zlibStream(level: number): { deflate: Deflater; stream: Deflate } {
  const stream = createDeflate({ level });
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const deflate: Deflater = (raw) => new Promise((resolve, reject) => {
    stream.write(raw, (err) => { if (err) reject(err); });
    stream.flush(zc.Z_SYNC_FLUSH, () => {
      const b = Buffer.concat(out.splice(0));
      resolve(new Uint8Array(b.buffer, b.byteOffset, b.length));
    });
  });
  return { deflate, stream };
}

/** RfbServer.stats. */
export interface RfbServerStats {
  shadowBytesCopied: number;
  pixelsConverted: number;
  scrolls: number;
  /** Live screens (one shadow each) and the bytes their shadows hold. */
  shadows: number;
  shadowBytes: number;
}

/**
 * RFB 3.8 for every VM: one TCP port per VM (like QEMU's -vnc), and RFB over a WebSocket
 * handed over by the lab server (`/vnc/<vm>`, for noVNC). Each connection runs an RfbConnection
 * (handshake, security, messages) and, once admitted, an RfbClient on the VM's shared RfbScreen.
 * A non-shared client disconnects the VM's other VNC clients (QEMU's default share policy);
 * browser viewers and snapshots are never affected.
 */
export class RfbServer {
  private readonly _o: RfbServerOptions;
  private readonly _log: (line: string) => void;
  private readonly _peerLog: (kind: string, noun: string, line: () => string) => void;
  private readonly _listeners: Listener[] = [];
  private readonly _live = new Set<Live>();
  private readonly _screens = new Map<LabVm, { screen: RfbScreen; users: number }>();
  private readonly _retired = { shadowBytesCopied: 0, pixelsConverted: 0, scrolls: 0 };
  private readonly _subs: IDisposable[] = [];
  private _closed = false;
  private _bound = 0;

  public constructor(o: RfbServerOptions) {
    this._o = o;
    this._log = o.log ?? (() => {});
    this._peerLog = o.peerLog ?? ((_kind, _noun, line) => this._log(line()));
  }

  /**
   * Bind one port per VM now in the registry (PORT, PORT+1, … in registry order), and one for
   * each VM added later (the next port); a VM removed closes its listener and its clients.
   */
  public async listen(): Promise<void> {
    for (const vm of this._o.vms.list()) await this._bind(vm);
    this._subs.push(this._o.vms.onAdd((vm) => {
      this._bind(vm).catch((err: unknown) => this._log(`vnc: no port for VM '${vm.name}': ${err instanceof Error ? err.message : String(err)}`));
    }));
    this._subs.push(this._o.vms.onRemove((vm) => this._vmRemoved(vm)));
  }

  private async _bind(vm: LabVm): Promise<void> {
    const base = this._o.port ?? 5900;
    const port = base === 0 ? 0 : base + this._bound++;
    const server = createServer((s) => this._accept(vm, s));
    this._o.gate?.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this._o.listen ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (this._closed || this._o.vms.get(vm.name) !== vm) {
      server.close();
      return;
    }
    const l = { vm, server, port: (server.address() as AddressInfo).port };
    this._listeners.push(l);
    this._log(`vnc: VM '${vm.name}' on ${this._o.listen ?? '127.0.0.1'}:${l.port}`);
  }

  /** VM name → TCP port, in VM order. */
  public get ports(): ReadonlyArray<{ readonly vm: string; readonly port: number }> {
    return this._listeners.map((l) => ({ vm: l.vm.name, port: l.port }));
  }

  public get clientCount(): number {
    return this._live.size;
  }

  /**
   * The screens' costs, over the server's life: bytes copied into the per-VM shadows (the VNC
   * path's one copy of guest pixels, counted), pixels converted for encoders, scrolls sent as moves.
   */
  public get stats(): RfbServerStats {
    const t = { ...this._retired, shadows: this._screens.size, shadowBytes: 0 };
    for (const { screen } of this._screens.values()) {
      t.shadowBytesCopied += screen.shadow.bytesCopied;
      t.pixelsConverted += screen.shadow.pixelsConverted;
      t.scrolls += screen.shadow.scrolls;
      t.shadowBytes += screen.shadow.bytes.length;
    }
    return t;
  }

  /** The live clients' counters (tests, bench). */
  public clients(): RfbClient[] {
    return [...this._live].flatMap((l) => (l.client ? [l.client] : []));
  }

  /** RFB over a WebSocket the lab server accepted for `/vnc/<vm>` (token and origin checked there). */
  public acceptWebSocket(vm: LabVm, ws: WebSocket, remote: string): void {
    let buffered = (): number => ws.bufferedAmount;
    const live = this._open(vm, remote, webSocketSecurity(this._o.security), {
      write: (b, flushed) => ws.send(b, { binary: true }, () => {
        flushed();
        live?.output.drained();
      }),
      get buffered() { return buffered(); },
      close: (hard) => (hard ? ws.terminate() : ws.close(1000)),
    });
    if (live === undefined) {
      ws.close(1013, 'too many VNC clients');
      return;
    }
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return live.close('text frame on an RFB WebSocket');
      live.conn.receive(new Uint8Array(data.buffer, data.byteOffset, data.length));
    });
    ws.on('close', () => this._gone(live));
    ws.on('error', () => this._gone(live));
    buffered = () => ws.bufferedAmount;
  }

  public async close(): Promise<void> {
    this._closed = true;
    for (const s of this._subs) s.dispose();
    for (const l of [...this._live]) l.close('server shutting down');
    await Promise.all(this._listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
    this._listeners.length = 0;
  }

  private _accept(vm: LabVm, raw: Socket): void {
    raw.setNoDelay(true);
    const gate = this._o.gate;
    const security = this._o.security;
    // The socket RFB is spoken on: `raw`, then its TLSSocket once VeNCrypt starts TLS.
    let socket: Socket = raw;
    let tls: TlsUpgrade | undefined;
    const onData = (d: Buffer): void => {
      live.conn.receive(new Uint8Array(d.buffer, d.byteOffset, d.length));
      // Past the handshake (and security): no pre-auth deadline or eviction any more.
      if (live.client !== undefined) gate?.promote(raw);
    };
    const onDrain = (): void => live.output.drained();
    const io: Io = {
      write: (b, flushed) => { socket.write(b, () => flushed()); },
      get buffered() { return socket.writableLength; },
      // Graceful (a failure reason still reaches the client), but never held open by a peer
      // that does not read: destroyed when more than a reason is queued (TLS always holds a
      // little: it encrypts asynchronously), and in any case after a grace period.
      close: (hard) => {
        tls?.cancel();
        if (hard || socket.writableLength > CLOSE_FLUSH_BYTES) {
          socket.destroy();
          return;
        }
        const s = socket;
        s.end();
        setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
      },
    };
    if (security.type === 'vencrypt') {
      io.startTls = (pending) => {
        raw.off('data', onData);
        raw.off('drain', onDrain);
        tls = startServerTls(raw, security.context, pending, this._o.tlsHandshakeMs ?? 10_000,
          () => live.conn.tlsEstablished(), (reason) => live.close(reason, true));
        socket = tls.socket;
        socket.on('data', onData);
        socket.on('drain', onDrain);
        socket.on('close', () => this._gone(live));
      };
    }
    const maybe = this._open(vm, `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? 0}`, security, io);
    if (maybe === undefined) {
      raw.destroy();
      return;
    }
    const live = maybe;
    raw.on('data', onData);
    raw.on('drain', onDrain);
    raw.on('close', () => this._gone(live));
    raw.on('error', () => raw.destroy());
  }

  private _open(vm: LabVm, remote: string, security: RfbSecurity, io: Io): Live | undefined {
    if (this._closed || this._live.size >= (this._o.maxClients ?? 128)) {
      this._peerLog('vnc-full', 'refused VNC clients', () => `vnc: refused ${remote} for VM '${vm.name}': too many VNC clients`);
      return undefined;
    }
    let account: BudgetAccount | undefined;
    const stallMs = this._o.stallMs ?? 10_000;
    const highWater = this._o.highWater ?? 2 * 1024 * 1024;
    let stall: ReturnType<typeof setTimeout> | undefined;
    let live: Live;
    const output: RfbOutput & { drained(): void } = {
      write: (b) => {
        account?.queued(b.length);
        io.write(b, () => account?.queued(-b.length));
        if (io.buffered > highWater && stall === undefined) {
          stall = setTimeout(() => live.close(`stopped reading for ${stallMs} ms`, true), stallMs);
          stall.unref?.();
        }
      },
      get buffered() { return io.buffered; },
      get mayQueue() { return account === undefined || account.mayQueue(); },
      close: (reason) => live.close(reason),
      drained: () => {
        if (io.buffered <= highWater && stall !== undefined) {
          clearTimeout(stall);
          stall = undefined;
        }
        live.client?.pump();
      },
    };
    let closed = false;
    live = {
      vm, remote, output, client: undefined, zlib: undefined,
      conn: new RfbConnection({
        write: (b) => output.write(b),
        close: (reason) => live.close(reason),
        ...(io.startTls === undefined ? {} : { startTls: io.startTls }),
      }, security, {
        init: (shared) => {
          if (!shared) {
            for (const other of [...this._live]) {
              if (other !== live && other.vm === vm) other.close('another client asked for exclusive access');
            }
          }
          const screen = this._screen(vm);
          const z = zlibStream(2);
          live.zlib = z.stream;
          live.client = new RfbClient(screen, vm, output, shared, { deflater: z.deflate, highWater });
          const w = live.client.width;
          const h = live.client.height;
          return { width: w, height: h, name: vm.name };
        },
        message: (m) => live.client?.message(m),
      }),
      close: (reason, hard = false) => {
        if (closed) return;
        closed = true;
        if (reason !== '' && reason !== 'server shutting down') this._peerLog('vnc-close', 'closed VNC clients', () => `vnc: ${remote} (VM '${vm.name}'): ${reason}`);
        if (stall !== undefined) clearTimeout(stall);
        account?.dispose();
        io.close(hard);
        this._gone(live);
      },
    };
    account = this._o.budget?.register({ evict: (reason) => live.close(reason, true), wake: () => live.client?.pump() });
    this._live.add(live);
    return live;
  }

  private _gone(live: Live): void {
    if (!this._live.delete(live)) return;
    live.close('');
    live.zlib?.close();
    if (live.client !== undefined) {
      live.client.dispose();
      this._release(live.vm);
    }
  }

  private _screen(vm: LabVm): RfbScreen {
    let s = this._screens.get(vm);
    if (s === undefined) {
      s = { screen: new RfbScreen(this._o.channels.channelFor(vm)), users: 0 };
      this._screens.set(vm, s);
    }
    s.users++;
    return s.screen;
  }

  private _release(vm: LabVm): void {
    const s = this._screens.get(vm);
    if (s === undefined || --s.users > 0) return;
    this._screens.delete(vm);
    this._retired.shadowBytesCopied += s.screen.shadow.bytesCopied;
    this._retired.pixelsConverted += s.screen.shadow.pixelsConverted;
    this._retired.scrolls += s.screen.shadow.scrolls;
    const ch = s.screen.channel;
    s.screen.dispose();
    this._o.channels.channelUnused(ch);
  }

  private _vmRemoved(vm: LabVm): void {
    for (const l of [...this._live]) if (l.vm === vm) l.close('the VM went away');
    const i = this._listeners.findIndex((l) => l.vm === vm);
    if (i >= 0) {
      this._listeners[i]!.server.close();
      this._listeners.splice(i, 1);
    }
  }
}
