import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { RealClock } from '../base/Clock.ts';
import type { IDisposable } from '../base/Disposable.ts';
import type { ClientStats, InspectorEvent } from '../protocol/InspectorData.ts';
import { ScanoutModel, type ScanoutPreset } from '../render/ScanoutModel.ts';
import { Msg, PROTOCOL_VERSION, encodeJson } from '../protocol/RemoteProtocol.ts';
import { AccessPolicy, isLoopbackAddress } from './AccessPolicy.ts';
import { ClientSession, CloseCode, ERROR_BUDGET, MAX_CLIENT_MESSAGE, type SessionHost } from './ClientSession.ts';
import { ConnectionGate, type ConnectionGateStats } from './ConnectionGate.ts';
import { LogLimiter, peerText } from './LogLimiter.ts';
import { OutputBudget, type OutputBudgetStats } from './OutputBudget.ts';
import { RateLimit } from './RateLimit.ts';
import { ServerConfigError } from './ServerConfigError.ts';
import { MAX_CHUNK_BYTES, VmChannel, type LabVmStats } from './VmChannel.ts';
import { loadViewerAssets, type StaticAssets } from './StaticAssets.ts';
import { summarize, type LabVm, type VmRegistry } from './VmRegistry.ts';

export interface LabServerOptions {
  /** The VMs viewers may attach to (the `run` command adds and removes them). */
  readonly vms: VmRegistry;
  /** Address to listen on. Default '127.0.0.1' (loopback). Non-loopback requires `token`. */
  readonly listen?: string;
  /** TCP port. Default 8080; 0 picks a free one (tests). */
  readonly port?: number;
  /** Fail when `port` is busy instead of trying the next 20. Default false. */
  readonly strictPort?: boolean;
  /** Shared secret every WebSocket client must present (`?token=` or Bearer). */
  readonly token?: string;
  /** PEM certificate and key: serve HTTPS and WSS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Allow a non-loopback listen address without TLS (the token and input cross in clear). */
  readonly insecure?: boolean;
  /** Files to serve. Default: the viewer built in memory by src/web/build.ts, or a placeholder. */
  readonly assets?: StaticAssets;
  /** Per-client bound on bytes queued for sending (plus one 256 KiB chunk). Default 16 MiB. */
  readonly maxQueuedBytes?: number;
  /** Concurrent WebSocket clients, at most. Default 256. */
  readonly maxClients?: number;
  /** Bytes queued for all clients together, at most (OutputBudget). Default 256 MiB. */
  readonly maxQueuedTotal?: number;
  /** A client with output queued and none written for this long is dropped. Default 10 000 ms. */
  readonly stallMs?: number;
  /** TCP connections at once, authenticated or not. Default 512. */
  readonly maxConnections?: number;
  /** TCP connections from one peer address at once. Default 32. */
  readonly maxPerAddress?: number;
  /** Connections without an accepted WebSocket yet (plain HTTP included). Default 64. */
  readonly maxPending?: number;
  /** Time a connection has to complete its request or upgrade. Default 10 000 ms. */
  readonly requestDeadlineMs?: number;
  /** STATS period per attached client in ms; 0 = never. Default 1000. */
  readonly statsIntervalMs?: number;
  /** Ping period in ms; a client silent for two periods is dropped. 0 = off. Default 30000. */
  readonly heartbeatMs?: number;
  /** Origins besides the server's own allowed to open the WebSocket (a reverse proxy's). */
  readonly allowedOrigins?: readonly string[];
  /** Host names besides loopback and the listen address served without a token. */
  readonly allowedHosts?: readonly string[];
  /** The host KMS device the inspector's direct-scanout verdict is about. Default 'i915-like'. */
  readonly scanoutHost?: ScanoutPreset;
  /** Where log lines go. Default: nowhere. */
  readonly log?: (line: string) => void;
}

export interface LabServerStats {
  readonly clients: number;
  readonly attached: number;
  readonly channels: number;
  /** Bytes queued for all clients now, and the largest single-client queue ever seen. */
  readonly queuedBytes: number;
  readonly queuedPeak: number;
  readonly bytesSent: number;
  readonly messagesSent: number;
  readonly wsAccepted: number;
  readonly wsRejected: number;
  readonly wsClosed: number;
  readonly httpRequests: number;
  readonly httpRejected: number;
  readonly protocolErrors: number;
  /** The global output budget and the connection gate. */
  readonly budget: OutputBudgetStats;
  readonly connections: ConnectionGateStats;
  /** Log lines a peer triggered that were counted instead of written. */
  readonly logSuppressed: number;
}

/** Per VM over all clients (average per second, burst): ATTACHes to it, RESIZEs of it. */
const VM_ATTACH_RATE = { rate: 200, burst: 400 } as const;
const VM_RESIZE_RATE = { rate: 8, burst: 8 } as const;

/** The WebSocket endpoint. Query: `token`, `events=1` (inspector EVENTs), `stats=0` (no STATS). */
export const WS_PATH = '/ws';
const DEFAULT_PORT = 8080;
const PORT_TRIES = 20;
/** ws closes (1009) anything bigger; between MAX_CLIENT_MESSAGE and this an ERROR frame answers. */
const MAX_PAYLOAD = 64 * 1024;

const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
  "connect-src 'self'", "worker-src 'self' blob:", "object-src 'none'", "base-uri 'none'",
  "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'Cache-Control': 'no-store',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  503: 'Service Unavailable',
};

/**
 * The lab server: the viewer's static files over HTTP and the remote display protocol over a
 * WebSocket (`/ws`), on node:http + ws. Each client gets a RemoteMirror of the VM it attaches to;
 * VMs share one VmChannel per watched VM. Loopback only by default; a non-loopback listen address
 * without a token is refused at construction.
 */
export class LabServer implements SessionHost {
  public readonly vms: VmRegistry;
  public readonly access: AccessPolicy;
  public readonly listenAddress: string;
  private readonly _opts: LabServerOptions;
  private readonly _log: (line: string) => void;
  private _assets: StaticAssets | undefined;
  private _http: Server | undefined;
  private readonly _gate: ConnectionGate;
  private readonly _budget: OutputBudget;
  private readonly _limiter: LogLimiter;
  private readonly _vmLimits = new WeakMap<LabVm, { attach: RateLimit; resize: RateLimit }>();
  private _wss: WebSocketServer | undefined;
  private _port = 0;
  private readonly _sessions = new Set<ClientSession>();
  private readonly _channels = new Map<LabVm, VmChannel>();
  /** Remote buffer ids in use over all channels (a client may hold two VMs' buffers). */
  private readonly _remoteIds = new Set<number>();
  private readonly _scanoutModel: ScanoutModel;
  private readonly _subs: IDisposable[] = [];
  private readonly _timers: ReturnType<typeof setInterval>[] = [];
  private _nextId = 1;
  private _closing = false;

  private _queuedPeak = 0;
  private _closedBytes = 0;
  private _closedMessages = 0;
  private _closedErrors = 0;
  private _wsAccepted = 0;
  private _wsRejected = 0;
  private _wsClosed = 0;
  private _httpRequests = 0;
  private _httpRejected = 0;

  /** Validates the options; throws (clear message) for a non-loopback listen without a token. */
  public constructor(opts: LabServerOptions) {
    this._opts = opts;
    this.vms = opts.vms;
    this.listenAddress = opts.listen ?? '127.0.0.1';
    const port = opts.port ?? DEFAULT_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ServerConfigError(`--port must be 0..65535, got ${port}`);
    }
    this._port = port;
    this.access = new AccessPolicy({
      listen: this.listenAddress, token: opts.token, allowedOrigins: opts.allowedOrigins, allowedHosts: opts.allowedHosts,
    });
    if (!isLoopbackAddress(this.listenAddress) && opts.tls === undefined && opts.insecure !== true) {
      throw new ServerConfigError(`refusing to serve ${this.listenAddress} without TLS: the token and every keystroke ` +
        'would cross the network in clear (give --tls-cert and --tls-key, or --insecure to accept that)');
    }
    this._log = opts.log ?? (() => {});
    const clock = new RealClock();
    this._limiter = new LogLimiter(this._log, { clock });
    try {
      this._budget = new OutputBudget({ clock, maxBytes: opts.maxQueuedTotal, stallMs: opts.stallMs });
      this._gate = new ConnectionGate({
        maxConnections: opts.maxConnections, maxPerAddress: opts.maxPerAddress, maxPending: opts.maxPending,
        pendingDeadlineMs: opts.requestDeadlineMs,
        onRefuse: (why, address) => this.peerLog(`gate-${why}`, GATE_NOUN[why], () =>
          `connection from ${peerText(address)} ${GATE_TEXT[why]}`),
      });
    } catch (err) {
      throw err instanceof RangeError ? new ServerConfigError(err.message) : err;
    }
    this._assets = opts.assets;
    this._scanoutModel = ScanoutModel.preset(opts.scanoutHost ?? 'i915-like');
  }

  /** Construct and listen. */
  public static async start(opts: LabServerOptions): Promise<LabServer> {
    const s = new LabServer(opts);
    await s.listen();
    return s;
  }

  /** Bind the port (the next free one when busy, unless strictPort) and start serving. */
  public async listen(): Promise<void> {
    if (this._http !== undefined) throw new Error('LabServer is already listening');
    this._assets ??= await loadViewerAssets(this._log);
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this._request(req, res);
    const tls = this._opts.tls;
    const http: Server = tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
    // Every TCP connection is counted before a byte is parsed (or a TLS handshake done).
    this._gate.attach(http);
    const deadline = this._opts.requestDeadlineMs ?? 10_000;
    http.headersTimeout = deadline;
    http.requestTimeout = deadline;
    const wss = new WebSocketServer({
      noServer: true, maxPayload: MAX_PAYLOAD, clientTracking: false, perMessageDeflate: false,
    });
    http.on('upgrade', (req, socket, head) => this._upgrade(req, socket, head));
    http.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    const first = this._port;
    const tries = first === 0 || this._opts.strictPort === true ? 1 : PORT_TRIES;
    for (let i = 0; ; i++) {
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error): void => { http.off('listening', onListening); reject(err); };
          const onListening = (): void => { http.off('error', onError); resolve(); };
          http.once('error', onError);
          http.once('listening', onListening);
          http.listen(first === 0 ? 0 : first + i, this.listenAddress);
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && i + 1 < tries) continue;
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new Error(tries > 1 ? `ports ${first}..${first + tries - 1} are all in use` : `port ${first} is in use`);
        }
        throw err;
      }
    }
    this._http = http;
    this._wss = wss;
    this._port = (http.address() as AddressInfo).port;
    if (first !== 0 && this._port !== first) this._log(`port ${first} is in use; serving on ${this._port} instead`);
    this._subs.push(this.vms.onAdd(() => this._vmsChanged()));
    this._subs.push(this.vms.onRemove((vm) => this._vmRemoved(vm)));
    const statsMs = this._opts.statsIntervalMs ?? 1000;
    if (statsMs > 0) this._every(statsMs, () => this._statsTick(statsMs));
    const beat = this._opts.heartbeatMs ?? 30000;
    if (beat > 0) this._every(beat, () => this._heartbeat(beat));
    this._log(`serving ${this.publicUrl}`);
    if (!isLoopbackAddress(this.listenAddress) && tls === undefined) {
      this._log(`WARNING: --insecure: serving ${this.listenAddress} without TLS; the token and every keystroke cross the network in clear`);
    }
  }

  public get port(): number {
    return this._port;
  }

  /** The URL to open, with the token when one is required: print it only when asked to. */
  public get url(): string {
    const token = this._opts.token !== undefined ? `?token=${encodeURIComponent(this._opts.token)}` : '';
    return `${this.publicUrl}${token}`;
  }

  /** The URL without the token (safe for logs and terminals). */
  public get publicUrl(): string {
    let host = this.listenAddress;
    if (host === '0.0.0.0' || host === '::') host = 'localhost';
    if (host.includes(':')) host = `[${host}]`;
    return `${this._opts.tls === undefined ? 'http' : 'https'}://${host}:${this._port}/`;
  }

  /** The global output budget (a VNC server registers its clients here too). */
  public get budget(): OutputBudget {
    return this._budget;
  }

  /** The connection limits (a VNC listener attaches here too). */
  public get gate(): ConnectionGate {
    return this._gate;
  }

  public get stats(): LabServerStats {
    let queued = 0;
    let attached = 0;
    let bytes = this._closedBytes;
    let messages = this._closedMessages;
    let errors = this._closedErrors;
    for (const s of this._sessions) {
      const m = s.mirror.stats;
      queued += m.queuedBytes;
      bytes += m.bytesSent;
      messages += m.messagesSent;
      errors += s.errors;
      if (m.queuedPeak > this._queuedPeak) this._queuedPeak = m.queuedPeak;
      if (s.vm !== undefined) attached++;
    }
    return {
      clients: this._sessions.size, attached, channels: this._channels.size, queuedBytes: queued,
      queuedPeak: this._queuedPeak, bytesSent: bytes, messagesSent: messages, wsAccepted: this._wsAccepted,
      wsRejected: this._wsRejected, wsClosed: this._wsClosed, httpRequests: this._httpRequests,
      httpRejected: this._httpRejected, protocolErrors: errors, budget: this._budget.stats,
      connections: this._gate.stats, logSuppressed: this._limiter.suppressed,
    };
  }

  /** Per-client statistics (the inspector's table). */
  public clientStats(): ClientStats[] {
    return [...this._sessions].map((s) => s.stats);
  }

  /** Close every client (1001), stop listening, drop every channel. */
  public async close(): Promise<void> {
    if (this._closing) return;
    this._closing = true;
    for (const t of this._timers) clearInterval(t);
    for (const d of this._subs) d.dispose();
    const sessions = [...this._sessions];
    for (const s of sessions) s.close(CloseCode.GOING_AWAY, 'server shutting down');
    // Peers get a moment to answer the close handshake; whatever is left is cut.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(sessions.map((s) => s.whenClosed)),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, 500); }),
    ]);
    clearTimeout(timer);
    for (const s of sessions) s.terminate();
    this._sessions.clear();
    this._budget.dispose();
    this._limiter.dispose();
    for (const ch of this._channels.values()) ch.dispose();
    this._channels.clear();
    const http = this._http;
    if (http !== undefined) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
    this._wss?.close();
  }

  // ---- SessionHost ----------------------------------------------------------------------------

  public findVm(name: string): LabVm | undefined {
    return this.vms.get(name);
  }

  public channelFor(vm: LabVm): VmChannel {
    let ch = this._channels.get(vm);
    if (ch === undefined) {
      ch = new VmChannel(vm, { scanoutModel: this._scanoutModel, sharedIds: this._remoteIds });
      this._channels.set(vm, ch);
    }
    return ch;
  }

  public channelUnused(ch: VmChannel): void {
    if (ch.clientCount > 0 || this._channels.get(ch.vm) !== ch) return;
    this._channels.delete(ch.vm);
    ch.dispose();
    // The VM's last viewer left (not a shutdown, not a removal): it may undo a viewer's resize.
    if (!this._closing && this.vms.get(ch.vm.name) === ch.vm) ch.vm.lastViewerLeft?.();
  }

  public helloInfo(session: ClientSession): unknown {
    return {
      server: 'vgpu-display', protocol: PROTOCOL_VERSION, client: session.id,
      vms: this.vms.list().map(summarize),
      limits: {
        maxClientMessage: MAX_CLIENT_MESSAGE, maxChunk: MAX_CHUNK_BYTES, errorBudget: ERROR_BUDGET,
        maxQueuedBytes: this._opts.maxQueuedBytes ?? 16 * 1024 * 1024, maxQueuedTotal: this._budget.maxBytes,
      },
    };
  }

  public log(line: string): void {
    this._log(line);
  }

  public peerLog(kind: string, noun: string, line: () => string): void {
    this._limiter.write(kind, noun, line);
  }

  public vmAllows(vm: LabVm, what: 'attach' | 'resize'): boolean {
    let l = this._vmLimits.get(vm);
    if (l === undefined) {
      const now = Date.now();
      l = {
        attach: new RateLimit(VM_ATTACH_RATE.rate, VM_ATTACH_RATE.burst, now),
        resize: new RateLimit(VM_RESIZE_RATE.rate, VM_RESIZE_RATE.burst, now),
      };
      this._vmLimits.set(vm, l);
    }
    return l[what].take(Date.now());
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private _request(req: IncomingMessage, res: ServerResponse): void {
    this._httpRequests++;
    const url = parseUrl(req.url);
    if (url === undefined) return this._refuse(res, 400, 'bad request target');
    if (!this.access.hostOk(req.headers.host)) {
      return this._refuse(res, 403, 'this server answers only to loopback host names ' +
        '(start it with --token to serve others)');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this._refuse(res, 405, `${req.method ?? '?'} is not served here`);
    }
    // Exact lookup in an in-memory map: no path from a request ever reaches the filesystem.
    const asset = this._assets?.get(url.pathname);
    if (asset === undefined) return this._refuse(res, 404, 'not found');
    // The viewer's files hold no secret and a browser cannot present the token for them without a
    // cookie (which every other port of the host would receive): they are served to anyone. Only
    // the WebSocket needs the token. A token presented here must still be the right one.
    const { token } = this.access.tokenFrom(req, url);
    if (token !== undefined && !this.access.tokenOk(token)) {
      return this._refuse(res, 401, 'wrong token: open the URL the server printed with --print-url');
    }
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    res.setHeader('Content-Type', asset.type);
    res.setHeader('Content-Length', asset.body.byteLength);
    res.statusCode = 200;
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  private _refuse(res: ServerResponse, status: number, text: string): void {
    this._httpRejected++;
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`${status} ${STATUS_TEXT[status] ?? ''}: ${text}\n`);
  }

  // ---- WebSocket ------------------------------------------------------------------------------

  private _upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = parseUrl(req.url);
    const reject = (status: number, text: string): void => {
      this._wsRejected++;
      const body = `${status} ${STATUS_TEXT[status] ?? ''}: ${text}\n`;
      socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\nConnection: close\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (this._closing || this._wss === undefined) return reject(503, 'server shutting down');
    if (url === undefined || url.pathname !== WS_PATH) return reject(404, `the WebSocket endpoint is ${WS_PATH}`);
    if (!this.access.hostOk(req.headers.host)) return reject(403, 'host not served without a token');
    if (!this.access.originOk(req.headers.origin, req.headers.host)) {
      const origin = req.headers.origin;
      this.peerLog('origin', 'refused cross-origin upgrades', () => `refused cross-origin WebSocket from ${peerText(origin)}`);
      return reject(403, 'cross-origin WebSocket refused');
    }
    const { token } = this.access.tokenFrom(req, url);
    // Refused before the upgrade: no 101, no WebSocket held open for a peer without the token.
    if (!this.access.tokenOk(token)) return reject(401, 'missing or wrong token');
    if (this._sessions.size >= (this._opts.maxClients ?? 256)) return reject(503, 'too many viewers');
    this._gate.promote(tcpSocket(req.socket));
    this._wss.handleUpgrade(req, socket, head, (ws) => this._connect(ws, req, url));
  }

  private _connect(ws: WebSocket, req: IncomingMessage, url: URL): void {
    this._wsAccepted++;
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    const session = new ClientSession(this._nextId++, ws, remote, this, {
      maxQueuedBytes: this._opts.maxQueuedBytes, events: url.searchParams.get('events') === '1',
      stats: url.searchParams.get('stats') !== '0', budget: this._budget,
    });
    this._sessions.add(session);
    ws.on('error', (err) => this.peerLog('ws-error', 'client socket errors', () => `client ${session.id}: ${peerText(err.message)}`));
    ws.on('close', () => {
      this._wsClosed++;
      this._forget(session);
    });
  }

  private _forget(session: ClientSession): void {
    if (!this._sessions.delete(session)) return;
    const m = session.mirror.stats;
    this._closedBytes += m.bytesSent;
    this._closedMessages += m.messagesSent;
    this._closedErrors += session.errors;
    if (m.queuedPeak > this._queuedPeak) this._queuedPeak = m.queuedPeak;
    session.dispose();
  }

  // ---- VM list, stats, heartbeat ----------------------------------------------------------------

  private _vmsChanged(): void {
    const event: InspectorEvent = { t: Date.now(), kind: 'vms', vms: this.vms.list().map(summarize) };
    const msg = encodeJson(Msg.EVENT, event);
    for (const s of this._sessions) s.postControl(msg);
  }

  private _vmRemoved(vm: LabVm): void {
    for (const s of this._sessions) s.vmRemoved(vm);
    const ch = this._channels.get(vm);
    if (ch !== undefined) {
      this._channels.delete(vm);
      ch.dispose();
    }
    this._vmsChanged();
  }

  private _statsTick(periodMs: number): void {
    const perVm = new Map<VmChannel, LabVmStats>();
    let queued = 0;
    for (const s of this._sessions) queued += s.mirror.queuedBytes;
    const server = { clients: this._sessions.size, queuedBytes: queued };
    for (const s of this._sessions) {
      const ch = s.vm === undefined ? undefined : this._channels.get(s.vm);
      if (ch === undefined || !s.wantsStats) continue;
      let vm = perVm.get(ch);
      if (vm === undefined) {
        vm = this._vmStats(ch);
        perVm.set(ch, vm);
      }
      s.postStats(vm, server, periodMs);
    }
  }

  /** A display whose introspection throws costs its STATS detail, not the tick. */
  private _vmStats(ch: VmChannel): LabVmStats {
    try {
      return ch.vmStats();
    } catch (err) {
      this._log(`stats of VM '${ch.vm.name}' failed: ${err instanceof Error ? err.message : String(err)}`);
      return { vm: ch.vm.name };
    }
  }

  private _heartbeat(periodMs: number): void {
    const now = Date.now();
    for (const s of [...this._sessions]) {
      if (now - s.lastPong > 2 * periodMs + 1000) {
        this.peerLog('heartbeat', 'silent clients dropped', () => `client ${s.id} (${s.remote}) stopped answering: dropped`);
        s.terminate();
        this._forget(s);
      } else {
        s.ping();
      }
    }
  }

  private _every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this._timers.push(t);
  }
}

const GATE_NOUN: Record<string, string> = {
  'total': 'connections refused (total cap)', 'per-address': 'connections refused (per-address cap)',
  'pending-evicted': 'pending connections evicted', 'deadline': 'connections past the request deadline',
};
const GATE_TEXT: Record<string, string> = {
  'total': 'refused: too many connections', 'per-address': 'refused: too many connections from this address',
  'pending-evicted': 'closed: too many connections without a request', 'deadline': 'closed: no request or upgrade in time',
};

/** The TCP socket under a request's socket (a TLS socket wraps the one the gate counted). */
function tcpSocket(s: Socket): Socket {
  return (s as Socket & { _parent?: Socket })._parent ?? s;
}

function parseUrl(target: string | undefined): URL | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  try {
    return new URL(target, 'http://lab.invalid');
  } catch {
    return undefined;
  }
}

export { isLoopbackAddress, ServerConfigError };
