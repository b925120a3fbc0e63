import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import {
  Msg, decodeServerMessage, encodeAttach, isProtocolError, type ServerMessage,
} from '../../protocol/RemoteProtocol.ts';

export interface RemoteBuffer {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly bytes: Uint8Array;
}

/** A wait's guard against a hang, never a speed bound: generous for a loaded machine. */
export const WAIT_GUARD_MS = 60_000;

interface Waiter {
  from: number;
  pred: (m: ServerMessage, index: number) => boolean;
  resolve: (m: ServerMessage) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A protocol client for tests: a real `ws` socket that decodes every server message, keeps a
 * byte-exact mirror of the buffers (the viewer's job, minus the GPU) and lets a test wait on
 * content — "the next SCANOUT", "a FRAME" — never on time. The timeout is only a guard.
 */
export class TestClient {
  public readonly ws: WebSocket;
  public readonly messages: ServerMessage[] = [];
  /** Payload bytes of each message, in arrival order. */
  public readonly sizes: number[] = [];
  public readonly buffers = new Map<number, RemoteBuffer>();
  public scanout: number | undefined;
  public cursor: { id: number; hotX: number; hotY: number } | undefined;
  public readonly closed: Promise<{ code: number; reason: string }>;
  public readonly protocolErrors: string[] = [];
  private readonly _waiters = new Set<Waiter>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      for (const w of this._waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`socket closed (${code} ${reason.toString()}) while waiting`));
      }
      this._waiters.clear();
      resolve({ code, reason: reason.toString() });
    }));
    ws.on('message', (data: Buffer) => this._onMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  }

  /** Connect and wait for HELLO. */
  public static async open(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const c = TestClient.connect(url, options);
    await c.next((m) => m.type === Msg.HELLO, 'HELLO');
    return c;
  }

  /** Connect without waiting (refusal tests). */
  public static connect(url: string, options: ClientOptions = {}): TestClient {
    const ws = new WebSocket(url, options);
    ws.on('error', () => {});
    return new TestClient(ws);
  }

  public get bytesReceived(): number {
    let n = 0;
    for (const s of this.sizes) n += s;
    return n;
  }

  /** Bytes received from message index `from` on. */
  public bytesSince(from: number): number {
    let n = 0;
    for (let i = from; i < this.sizes.length; i++) n += this.sizes[i]!;
    return n;
  }

  public send(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  public attach(vm: string): void {
    this.send(encodeAttach(vm));
  }

  /** The underlying TCP socket (to stop reading: `socket.pause()`). */
  public get socket(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  /** The first message at index >= `from` (default: the next one to arrive) matching `pred`. */
  public next(pred: (m: ServerMessage) => boolean, what: string, from = this.messages.length, timeoutMs = WAIT_GUARD_MS): Promise<ServerMessage> {
    for (let i = from; i < this.messages.length; i++) {
      if (pred(this.messages[i]!)) return Promise.resolve(this.messages[i]!);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        from, pred, resolve, reject,
        timer: setTimeout(() => {
          this._waiters.delete(w);
          reject(new Error(`timed out waiting for ${what}; got ${this.messages.slice(from).map(describeMessage).join(', ') || 'nothing'}`));
        }, timeoutMs),
      };
      this._waiters.add(w);
    });
  }

  public close(): void {
    this.ws.close();
  }

  private _onMessage(bytes: Uint8Array): void {
    const m = decodeServerMessage(bytes);
    if (isProtocolError(m)) {
      this.protocolErrors.push(m.error);
      return;
    }
    this._apply(m);
    const index = this.messages.length;
    this.messages.push(m);
    this.sizes.push(bytes.byteLength);
    for (const w of [...this._waiters]) {
      if (index >= w.from && w.pred(m, index)) {
        this._waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  }

  private _apply(m: ServerMessage): void {
    switch (m.type) {
      case Msg.BUFFER_CREATE:
        if (this.buffers.has(m.id)) this.protocolErrors.push(`BUFFER_CREATE ${m.id} twice`);
        this.buffers.set(m.id, { id: m.id, width: m.width, height: m.height, stride: m.stride, bytes: new Uint8Array(m.size) });
        break;
      case Msg.BUFFER_DATA: {
        const b = this.buffers.get(m.id);
        if (b === undefined || m.offset + m.bytes.byteLength > b.bytes.byteLength) {
          this.protocolErrors.push(`BUFFER_DATA for ${m.id} at ${m.offset} does not fit`);
        } else {
          b.bytes.set(m.bytes, m.offset);
        }
        break;
      }
      case Msg.BUFFER_RELEASE:
        if (!this.buffers.delete(m.id)) this.protocolErrors.push(`BUFFER_RELEASE of unknown ${m.id}`);
        if (this.scanout === m.id) this.protocolErrors.push(`BUFFER_RELEASE of the shown buffer ${m.id}`);
        break;
      case Msg.SCANOUT:
        if (!this.buffers.has(m.id)) this.protocolErrors.push(`SCANOUT of unknown ${m.id}`);
        this.scanout = m.id;
        break;
      case Msg.CURSOR_DEFINE:
        if (m.id !== 0 && !this.buffers.has(m.id)) this.protocolErrors.push(`CURSOR_DEFINE of unknown ${m.id}`);
        this.cursor = m.id === 0 ? undefined : { id: m.id, hotX: m.hotX, hotY: m.hotY };
        break;
      default:
        break;
    }
  }
}

export function describeMessage(m: ServerMessage): string {
  switch (m.type) {
    case Msg.HELLO: return 'HELLO';
    case Msg.BUFFER_CREATE: return `CREATE(${m.id})`;
    case Msg.BUFFER_DATA: return `DATA(${m.id}@${m.offset}+${m.bytes.byteLength})`;
    case Msg.BUFFER_RELEASE: return `RELEASE(${m.id})`;
    case Msg.SCANOUT: return `SCANOUT(${m.id})`;
    case Msg.CURSOR_DEFINE: return `CURSOR_DEFINE(${m.id})`;
    case Msg.CURSOR_MOVE: return `CURSOR_MOVE(${m.x},${m.y})`;
    case Msg.FRAME: return `FRAME(${m.seq})`;
    case Msg.STATUS: return `STATUS(${m.code} ${m.text})`;
    case Msg.STATS: return 'STATS';
    case Msg.EVENT: return 'EVENT';
    case Msg.PONG: return `PONG(${m.seq})`;
    case Msg.ERROR: return `ERROR(${m.code} ${m.text})`;
  }
}
