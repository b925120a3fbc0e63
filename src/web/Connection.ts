import { Disposable, toDisposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import { decodeServerMessage, isProtocolError } from '../protocol/RemoteProtocol.ts';
import type { ServerMessage } from '../protocol/RemoteProtocol.ts';
import { closeText, reconnectDelay } from './Backoff.ts';

/**
 * Connection states. `waiting` is the pause before the next attempt; `cancelled` stays until
 * `retryNow`; `disposed` is terminal.
 */
export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'cancelled' | 'disposed';

export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** Failed attempts since the last successful open (the "Reconnecting (n)" number). */
  readonly attempt: number;
  /** When `waiting`: ms until the next attempt. */
  readonly retryInMs: number;
  /** Why the last connection ended ('' when it never did). */
  readonly reason: string;
}

const ALLOWED: Record<ConnectionState, readonly ConnectionState[]> = {
  connecting: ['open', 'waiting', 'cancelled', 'disposed'],
  open: ['waiting', 'cancelled', 'disposed'],
  waiting: ['connecting', 'cancelled', 'disposed'],
  cancelled: ['connecting', 'disposed'],
  disposed: [],
};

/** WebSocket.readyState values (numbers, so Node tests can run without a WebSocket global). */
const enum ReadyState {
  CONNECTING = 0,
  OPEN = 1,
}

/** A WebSocket factory (tests may substitute one). */
export type SocketFactory = (url: string) => WebSocket;

/**
 * The viewer's WebSocket: decodes server messages (malformed ones become `onProtocolError`, the
 * connection stays up), reconnects with exponential backoff (0.5 s → 3 s) until cancelled, and
 * checks its state transitions (noVNC style: a bad transition is refused and reported).
 */
export class Connection extends Disposable {
  private readonly _onMessage = this._register(new Emitter<ServerMessage>());
  public readonly onMessage = this._onMessage.event;
  private readonly _onProtocolError = this._register(new Emitter<string>());
  public readonly onProtocolError = this._onProtocolError.event;
  private readonly _onStatus = this._register(new Emitter<ConnectionStatus>());
  public readonly onStatus = this._onStatus.event;
  /** Fired on every successful open (before any message of that connection). */
  private readonly _onOpen = this._register(new Emitter<void>());
  public readonly onOpen = this._onOpen.event;

  /** Bytes received over all connections (message payloads). */
  public bytesReceived = 0;
  public messagesReceived = 0;
  /** When the last message arrived, before it was decoded (epoch ms, this page's clock). */
  public lastReceivedAt = 0;
  private _state: ConnectionState = 'cancelled';
  private _attempt = 0;
  private _reason = '';
  private _retryAt = 0;
  private _ws: WebSocket | null = null;
  private _timer: ReturnType<typeof setTimeout> | undefined;

  public constructor(private readonly _url: string,
    private readonly _factory: SocketFactory = (u) => new WebSocket(u)) {
    super();
    this._register(toDisposable(() => {
      this._setState('disposed');
      this._closeSocket();
    }));
  }

  public get status(): ConnectionStatus {
    return {
      state: this._state, attempt: this._attempt, reason: this._reason,
      retryInMs: this._state === 'waiting' ? Math.max(0, this._retryAt - Date.now()) : 0,
    };
  }

  /** Connect now (from any state but `disposed`; an open connection is kept). */
  public retryNow(): void {
    if (this._state === 'disposed' || this._state === 'open' || this._state === 'connecting') return;
    clearTimeout(this._timer);
    this._open();
  }

  /** Stop reconnecting (and close an open connection). */
  public cancel(reason = 'cancelled'): void {
    if (this._state === 'disposed' || this._state === 'cancelled') return;
    clearTimeout(this._timer);
    this._reason = reason;
    this._closeSocket();
    this._setState('cancelled');
  }

  /** Send when open; false (dropped) otherwise. Input is not queued: stale input is harmful. */
  public send(bytes: Uint8Array): boolean {
    if (this._state !== 'open' || this._ws === null || this._ws.readyState !== ReadyState.OPEN) return false;
    this._ws.send(bytes as Uint8Array<ArrayBuffer>);
    return true;
  }

  private _open(): void {
    if (!this._setState('connecting')) return;
    let ws: WebSocket;
    try {
      ws = this._factory(this._url);
    } catch (e) {
      this._lost(`cannot connect (${String(e)})`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this._ws = ws;
    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._attempt = 0;
      this._reason = '';
      if (this._setState('open')) this._onOpen.fire();
    };
    ws.onmessage = (e: MessageEvent) => {
      if (this._ws !== ws) return;
      this._receive(e.data);
    };
    ws.onclose = (e: CloseEvent) => {
      if (this._ws !== ws) return;
      this._lost(closeText(e.code, e.reason));
    };
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
  }

  private _receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      this._onProtocolError.fire('text frame (the protocol is binary)');
      return;
    }
    this.lastReceivedAt = performance.timeOrigin + performance.now();
    this.bytesReceived += data.byteLength;
    this.messagesReceived++;
    const m = decodeServerMessage(new Uint8Array(data));
    if (isProtocolError(m)) this._onProtocolError.fire(m.error);
    else this._onMessage.fire(m);
  }

  private _lost(reason: string): void {
    this._closeSocket();
    if (this._state === 'cancelled' || this._state === 'disposed') return;
    this._reason = reason;
    this._attempt++;
    const delay = reconnectDelay(this._attempt);
    this._retryAt = Date.now() + delay;
    if (!this._setState('waiting')) return;
    this._timer = setTimeout(() => this._open(), delay);
  }

  private _closeSocket(): void {
    const ws = this._ws;
    this._ws = null;
    if (ws === null) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState === ReadyState.CONNECTING || ws.readyState === ReadyState.OPEN) ws.close();
  }

  private _setState(next: ConnectionState): boolean {
    if (!ALLOWED[this._state].includes(next)) {
      if (this._state !== next && this._state !== 'disposed') {
        console.warn(`connection: refused transition ${this._state} → ${next}`);
      }
      return false;
    }
    this._state = next;
    this._onStatus.fire(this.status);
    return true;
  }
}
