import { DEFAULT_MESSAGE_LIMITS, parseClientMessage, type ClientMessage, type MessageLimits } from './ClientMessages.ts';
import { encodePixelFormat, SERVER_PIXEL_FORMAT, PIXEL_FORMAT_BYTES } from './PixelFormat.ts';
import { SERVER_VERSION, negotiateVersion, type RfbVersion } from './Version.ts';
import { VNC_CHALLENGE_BYTES, vncAuthCheck, vncChallenge } from './VncAuth.ts';

/** Where a connection's bytes go: a TCP socket or a WebSocket (RFB bytes split across frames freely). */
export interface RfbTransport {
  write(bytes: Uint8Array): void;
  /** Close the connection; `reason` is for the log (already sent to the client where RFB allows). */
  close(reason: string): void;
}

/** Security types offered (RFC 6143 §7.2). */
export type RfbSecurity =
  | { readonly type: 'none' }
  | { readonly type: 'vnc'; readonly password: Uint8Array };

export const SECURITY_NONE = 1;
export const SECURITY_VNC = 2;

/** What the connection asks of the server once the client is authenticated. */
export interface RfbConnectionHandler {
  /**
   * ClientInit arrived: admit the client (`shared` as it asked) and say what ServerInit announces,
   * or refuse it with a reason (an exclusive client present, a VM that went away).
   */
  init(shared: boolean): { readonly width: number; readonly height: number; readonly name: string } | { readonly refuse: string };
  /** A well-formed client message after init. */
  message(m: ClientMessage): void;
}

type State = 'version' | 'security' | 'vnc-auth' | 'client-init' | 'normal' | 'closed';

/** Bytes a client may have buffered with us before the message they form is complete. */
const MAX_INPUT = DEFAULT_MESSAGE_LIMITS.maxCutText + 64 * 1024;

/**
 * The server side of one RFB 3.3/3.7/3.8 connection up to and including message parsing:
 * ProtocolVersion, security (None or VNC Authentication), ClientInit/ServerInit, then client
 * messages handed to the handler one by one. Transport-agnostic (TCP or WebSocket). Any protocol
 * error closes this connection with a reason and touches nothing else.
 */
export class RfbConnection {
  public version: RfbVersion = '3.8';
  /** Set after the -316 ack: PointerEvents with bit 7 carry one more byte. */
  public extendedMouse = false;
  private _state: State = 'version';
  private readonly _transport: RfbTransport;
  private readonly _security: RfbSecurity;
  private readonly _handler: RfbConnectionHandler;
  private readonly _limits: MessageLimits;
  private _buf = new Uint8Array(4096);
  private _start = 0;
  private _end = 0;
  private _challenge: Uint8Array | undefined;
  private _closeReason = '';

  public constructor(transport: RfbTransport, security: RfbSecurity, handler: RfbConnectionHandler,
    limits: MessageLimits = DEFAULT_MESSAGE_LIMITS) {
    this._transport = transport;
    this._security = security;
    this._handler = handler;
    this._limits = limits;
    transport.write(new TextEncoder().encode(SERVER_VERSION));
  }

  public get state(): State {
    return this._state;
  }

  public get closeReason(): string {
    return this._closeReason;
  }

  /** Bytes from the client, in any split. */
  public receive(chunk: Uint8Array): void {
    if (this._state === 'closed') return;
    if (this._end - this._start + chunk.length > MAX_INPUT) {
      this.fail(`client sent more than ${MAX_INPUT} bytes that do not form a message`);
      return;
    }
    this._append(chunk);
    while (this._step()) { /* consume what is complete; _step returns false once closed */ }
    if (this._start === this._end) this._start = this._end = 0;
  }

  /** Close with a reason (logged; sent to the client where RFB has a place for it). */
  public fail(reason: string): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this._closeReason = reason;
    this._transport.close(reason);
  }

  private _append(chunk: Uint8Array): void {
    const used = this._end - this._start;
    if (this._end + chunk.length > this._buf.length) {
      if (used + chunk.length <= this._buf.length) {
        this._buf.copyWithin(0, this._start, this._end);
      } else {
        let size = this._buf.length * 2;
        while (size < used + chunk.length) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this._buf.subarray(this._start, this._end));
        this._buf = grown;
      }
      this._start = 0;
      this._end = used;
    }
    this._buf.set(chunk, this._end);
    this._end += chunk.length;
  }

  private _take(n: number): Uint8Array | undefined {
    if (this._end - this._start < n) return undefined;
    const out = this._buf.slice(this._start, this._start + n);
    this._start += n;
    return out;
  }

  private _u32(v: number): Uint8Array {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return b;
  }

  private _reasonBytes(reason: string): Uint8Array {
    const text = new TextEncoder().encode(reason);
    const out = new Uint8Array(4 + text.length);
    new DataView(out.buffer).setUint32(0, text.length);
    out.set(text, 4);
    return out;
  }

  private get _securityType(): number {
    return this._security.type === 'vnc' ? SECURITY_VNC : SECURITY_NONE;
  }

  /** Run one step of the state machine; false when more bytes are needed. */
  private _step(): boolean {
    switch (this._state) {
      case 'version': {
        const v = this._take(12);
        if (v === undefined) return false;
        const r = negotiateVersion(v);
        if (typeof r === 'object') {
          // 3.3-style failure: security type 0 and a reason, then close.
          this._transport.write(this._u32(0));
          this._transport.write(this._reasonBytes(r.error));
          this.fail(r.error);
          return false;
        }
        this.version = r;
        if (r === '3.3') {
          // The server picks the type.
          this._transport.write(this._u32(this._securityType));
          this._afterSecurityChoice();
        } else {
          this._transport.write(Uint8Array.of(1, this._securityType));
          this._state = 'security';
        }
        return true;
      }
      case 'security': {
        const t = this._take(1);
        if (t === undefined) return false;
        if (t[0] !== this._securityType) {
          this._securityFailed(`security type ${t[0]} was not offered`);
          return false;
        }
        this._afterSecurityChoice();
        return true;
      }
      case 'vnc-auth': {
        const resp = this._take(VNC_CHALLENGE_BYTES);
        if (resp === undefined) return false;
        const sec = this._security;
        if (sec.type !== 'vnc' || this._challenge === undefined || !vncAuthCheck(sec.password, this._challenge, resp)) {
          this._securityFailed('authentication failed');
          return false;
        }
        this._transport.write(this._u32(0));
        this._state = 'client-init';
        return true;
      }
      case 'client-init': {
        const s = this._take(1);
        if (s === undefined) return false;
        const r = this._handler.init(s[0] !== 0);
        if ('refuse' in r) {
          this.fail(r.refuse);
          return false;
        }
        this._serverInit(r.width, r.height, r.name);
        this._state = 'normal';
        return true;
      }
      case 'normal': {
        const r = parseClientMessage(this._buf, this._start, this._end, this.extendedMouse, this._limits);
        if (r.kind === 'need-more') return false;
        if (r.kind === 'error') {
          this.fail(r.reason);
          return false;
        }
        this._start += r.size;
        this._handler.message(r.message);
        return true;
      }
      case 'closed':
        return false;
    }
  }

  private _afterSecurityChoice(): void {
    if (this._security.type === 'vnc') {
      this._challenge = vncChallenge();
      this._transport.write(this._challenge);
      this._state = 'vnc-auth';
      return;
    }
    // None: only 3.8 sends a SecurityResult.
    if (this.version === '3.8') this._transport.write(this._u32(0));
    this._state = 'client-init';
  }

  private _securityFailed(reason: string): void {
    this._transport.write(this._u32(1));
    if (this.version === '3.8') this._transport.write(this._reasonBytes(reason));
    this.fail(reason);
  }

  private _serverInit(width: number, height: number, name: string): void {
    const text = new TextEncoder().encode(name);
    const out = new Uint8Array(4 + PIXEL_FORMAT_BYTES + 4 + text.length);
    const v = new DataView(out.buffer);
    v.setUint16(0, width);
    v.setUint16(2, height);
    encodePixelFormat(SERVER_PIXEL_FORMAT, out, 4);
    v.setUint32(4 + PIXEL_FORMAT_BYTES, text.length);
    out.set(text, 8 + PIXEL_FORMAT_BYTES);
    this._transport.write(out);
  }
}
