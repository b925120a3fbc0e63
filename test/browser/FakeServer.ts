/**
 * A stand-in for the lab server (src/server) in the browser tests: node:http serves the viewer
 * bundle (buildViewer, in memory) and a `ws` WebSocket at /ws speaks RemoteProtocol with
 * synthetic buffers. It counts the bytes it sends, records what the page sends, and can be
 * stopped and started again on the same port (reconnect test).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { decodeClientMessage, encodeHello, encodePong, isProtocolError, Msg } from '../../src/protocol/RemoteProtocol.ts';
import type { ClientMessage } from '../../src/protocol/RemoteProtocol.ts';
import { buildViewer } from '../../src/web/build.ts';
import type { ViewerBundle } from '../../src/web/build.ts';

/** Runs when a page ATTACHes: send it the initial picture. */
export type AttachHandler = (client: FakeClient, vm: string) => void;

export class FakeClient {
  public vm: string | undefined;
  public readonly received: ClientMessage[] = [];

  public constructor(private readonly _ws: WebSocket, private readonly _server: FakeServer) {}

  public send(bytes: Uint8Array | string): void {
    if (this._ws.readyState !== WebSocket.OPEN) return;
    this._server.bytesSent += typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
    this._ws.send(bytes, { binary: typeof bytes !== 'string' });
  }

  public sendAll(list: readonly Uint8Array[]): void {
    for (const b of list) this.send(b);
  }

  public close(): void {
    this._ws.terminate();
  }
}

export class FakeServer {
  public bytesSent = 0;
  public port = 0;
  public clients: FakeClient[] = [];
  /** Every message any page sent, in order. */
  public readonly received: ClientMessage[] = [];
  /** Messages from the page the protocol decoder refused (must stay empty). */
  public readonly malformed: string[] = [];
  /** Paths answered 404 (the page should ask for none). */
  public readonly notFound: string[] = [];
  public onAttach: AttachHandler = () => {};
  public vms: string[] = ['vm0'];
  /** One bundle for every server of the test process. */
  private static _bundle: Promise<ViewerBundle> | undefined;
  private _http: Server | undefined;
  private _wss: WebSocketServer | undefined;
  private readonly _waiters: Array<() => void> = [];

  public get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Listen on `port` (0: any free port; later starts reuse the same one). */
  public async start(port = this.port): Promise<void> {
    FakeServer._bundle ??= buildViewer();
    const bundle = await FakeServer._bundle;
    const http = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const file: Record<string, [string | Uint8Array, string]> = {
        '/': [bundle.html, 'text/html; charset=utf-8'], '/index.html': [bundle.html, 'text/html; charset=utf-8'],
        '/viewer.js': [bundle.js, 'text/javascript; charset=utf-8'], '/viewer.css': [bundle.css, 'text/css; charset=utf-8'],
        '/favicon.ico': [bundle['favicon.ico'], 'image/x-icon'],
      };
      const f = file[path];
      if (f === undefined) {
        this.notFound.push(path);
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': f[1], 'cache-control': 'no-store' }).end(f[0]);
    });
    const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 1 << 20 });
    wss.on('connection', (ws) => {
      const client = new FakeClient(ws, this);
      this.clients.push(client);
      ws.on('message', (data: Buffer) => {
        const m = decodeClientMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if (isProtocolError(m)) {
          this.malformed.push(m.error);
          return;
        }
        if (m.type === Msg.PING) {
          // Clock probes are answered like the lab server does (same machine: offset ≈ 0).
          client.send(encodePong(m.seq, m.clientMs, performance.timeOrigin + performance.now()));
          return;
        }
        client.received.push(m);
        this.received.push(m);
        if (m.type === Msg.ATTACH) {
          client.vm = m.vm;
          this.onAttach(client, m.vm);
        }
        this._wake();
      });
      ws.on('close', () => {
        this.clients = this.clients.filter((c) => c !== client);
      });
      client.send(encodeHello({ vms: this.vms }));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (http.address() as AddressInfo).port;
    this._http = http;
    this._wss = wss;
  }

  /** Close every connection and stop listening (the port may be reused by `start`). */
  public async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    this.clients = [];
    await new Promise<void>((resolve) => (this._wss ? this._wss.close(() => resolve()) : resolve()));
    const http = this._http;
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    this._http = undefined;
    this._wss = undefined;
  }

  /** The client attached to `vm` (the newest when several). */
  public client(vm = 'vm0'): FakeClient {
    const c = this.clients.findLast((x) => x.vm === vm);
    if (c === undefined) throw new Error(`no page attached to ${vm}`);
    return c;
  }

  /** Resolve when `pred` holds for the received messages (checked on every message; the timeout is a guard). */
  public async waitFor(pred: (all: readonly ClientMessage[]) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the page to send the expected messages');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this._waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private _wake(): void {
    for (const w of this._waiters.splice(0)) w();
  }
}
