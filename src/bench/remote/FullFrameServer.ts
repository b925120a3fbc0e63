import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { IDisposable } from '../../base/Disposable.ts';
import type { DisplayBuffer } from '../../display/DisplayBuffer.ts';
import type { DisplayConsole } from '../../display/DisplayConsole.ts';
import { BUFFER_DATA_HEADER } from '../../protocol/RemoteProtocol.ts';

const BUFFER_DATA = 0x11;

/**
 * The remote baseline: a server that sends the whole shown frame on every change (a scanout or
 * any damage), as a screen-scraping remote display without a buffer mirror would. One message per
 * change: the BUFFER_DATA header and stride × height bytes. Same ws library and loopback as ours.
 */
export class FullFrameServer {
  public bytesSent = 0;
  public messages = 0;
  private readonly _http: Server;
  private readonly _wss: WebSocketServer;
  private readonly _clients = new Set<WebSocket>();
  private readonly _subs: IDisposable[] = [];
  private _pending = false;
  private _port = 0;

  private constructor(private readonly _console: DisplayConsole) {
    this._http = createServer((_req, res) => { res.statusCode = 404; res.end(); });
    this._wss = new WebSocketServer({ server: this._http, perMessageDeflate: false });
    this._wss.on('connection', (ws) => {
      this._clients.add(ws);
      ws.on('close', () => this._clients.delete(ws));
      ws.on('error', () => {});
    });
    this._subs.push(_console.onScanout(() => this._changed()));
    this._subs.push(_console.onUpdate(() => this._changed()));
  }

  public static async start(console: DisplayConsole): Promise<FullFrameServer> {
    const s = new FullFrameServer(console);
    await new Promise<void>((resolve) => s._http.listen(0, '127.0.0.1', () => resolve()));
    s._port = (s._http.address() as AddressInfo).port;
    return s;
  }

  public get url(): string {
    return `ws://127.0.0.1:${this._port}/`;
  }

  public async close(): Promise<void> {
    for (const s of this._subs) s.dispose();
    for (const c of this._clients) c.terminate();
    this._wss.close();
    await new Promise<void>((resolve) => {
      this._http.close(() => resolve());
      this._http.closeAllConnections();
    });
  }

  /** Changes within one task coalesce (a flip reports scanout + update together). */
  private _changed(): void {
    if (this._pending) return;
    this._pending = true;
    queueMicrotask(() => {
      this._pending = false;
      const b = this._console.scanout;
      if (b !== undefined && this._clients.size > 0) this._send(b);
    });
  }

  private _send(b: DisplayBuffer): void {
    const len = Math.min(b.stride * b.height, b.mapping.length);
    const out = Buffer.allocUnsafe(BUFFER_DATA_HEADER + len);
    out[0] = BUFFER_DATA;
    out.writeUInt32LE(b.id >>> 0, 1);
    out.writeUInt32LE(0, 5);
    const m = b.mapping;
    for (let c = 0; c < m.chunks.length; c++) {
      const at = m.chunkOffsets[c]!;
      if (at >= len) break;
      const chunk = m.chunks[c]!;
      const n = Math.min(chunk.byteLength, len - at);
      out.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n), BUFFER_DATA_HEADER + at);
    }
    for (const ws of this._clients) {
      ws.send(out, { binary: true });
      this.bytesSent += out.byteLength;
      this.messages++;
    }
  }
}
