import { DEFAULT_MESSAGE_LIMITS, parseClientMessage, type ClientMessage, type MessageLimits } from './ClientMessages.ts';
import { encodePixelFormat, SERVER_PIXEL_FORMAT, PIXEL_FORMAT_BYTES } from './PixelFormat.ts';
import {
  SECURITY_VENCRYPT, VENCRYPT_VERSION, VENCRYPT_X509_VNC, vencryptSubtypeName, vencryptSubtypeReply, vencryptSubtypes,
  vencryptVersionReply, type VeNCryptConfig,
} from './VeNCrypt.ts';
import { SERVER_VERSION, negotiateVersion, type RfbVersion } from './Version.ts';
import { VNC_CHALLENGE_BYTES, vncAuthCheck, vncChallenge } from './VncAuth.ts';

/** Where a connection's bytes go: a TCP socket or a WebSocket (RFB bytes split across frames freely). */
export interface RfbTransport {
  write(bytes: Uint8Array): void;
  /** Close the connection; `reason` is for the log (already sent to the client where RFB allows). */
  close(reason: string): void;
  /**
   * VeNCrypt: run the server side of a TLS handshake on this transport now (the subtype ack is
   * written). `pending`: bytes the client sent past its subtype, TLS's first input. When the
   * handshake is done the transport calls `tlsEstablished()` and feeds decrypted bytes to
   * `receive()`; on failure it calls `fail()`. Only a TCP transport can; others never get VeNCrypt.
   */
  startTls?(pending: Uint8Array): void;
}

/**
 * Security types offered (RFC 6143 §7.2): exactly one, as QEMU does, so that a client can never
 * pick a weaker one. 'vencrypt' is VeNCrypt X509None, or X509Vnc when it has a password.
 */
export type RfbSecurity =
  | { readonly type: 'none' }
  | { readonly type: 'vnc'; readonly password: Uint8Array }
  | ({ readonly type: 'vencrypt' } & VeNCryptConfig);

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

type State = 'version' | 'security' | 'vencrypt-version' | 'vencrypt-subtype' | 'tls' | 'vnc-auth' | 'client-init' | 'normal' | 'closed';

/** Bytes a client may have buffered with us before the message they form is complete. */
const MAX_INPUT = DEFAULT_MESSAGE_LIMITS.maxCutText + 64 * 1024;

/**
 * The server side of one RFB 3.3/3.7/3.8 connection up to and including message parsing:
 * ProtocolVersion, security (None, VNC Authentication or VeNCrypt X509), ClientInit/ServerInit,
 * then client messages handed to the handler one by one. Transport-agnostic (TCP or WebSocket;
 * VeNCrypt's TLS is the transport's `startTls`). Any protocol error closes this connection with a
 * reason and touches nothing else.
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
  /** The VeNCrypt subtype the client chose (0: not VeNCrypt). */
  private _subtype = 0;

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

  /** The VeNCrypt subtype in use, e.g. 'X509None'; undefined without VeNCrypt. */
  public get vencryptSubtype(): string | undefined {
    return this._subtype === 0 ? undefined : vencryptSubtypeName(this._subtype);
  }

  /** The transport finished the TLS handshake: the sub-authentication runs inside TLS. */
  public tlsEstablished(): void {
    if (this._state !== 'tls') return;
    if (this._subtype === VENCRYPT_X509_VNC) {
      this._sendChallenge();
      return;
    }
    // X509None: the SecurityResult comes in every RFB version (QEMU, libvncclient).
    this._transport.write(this._u32(0));
    this._state = 'client-init';
  }

  /** Bytes from the client, in any split. */
  public receive(chunk: Uint8Array): void {
    if (this._state === 'closed') return;
    if (this._state === 'tls') {
      // The transport owns every byte until TLS is up: one here would skip the encryption.
      this.fail('bytes in clear during the TLS handshake');
      return;
    }
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
    switch (this._security.type) {
      case 'none': return SECURITY_NONE;
      case 'vnc': return SECURITY_VNC;
      case 'vencrypt': return SECURITY_VENCRYPT;
    }
  }

  /** The password VNC Authentication checks against (plain, or inside VeNCrypt X509Vnc). */
  private get _password(): Uint8Array | undefined {
    return this._security.type === 'none' ? undefined : this._security.password;
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
        if (r === '3.3' && this._security.type === 'vencrypt') {
          // 3.3 has no security list to offer VeNCrypt in, and None would bypass TLS (QEMU: same).
          const reason = 'this server needs VeNCrypt (TLS), which needs RFB 3.7 or later';
          this._transport.write(this._u32(0));
          this._transport.write(this._reasonBytes(reason));
          this.fail(reason);
          return false;
        }
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
      case 'vencrypt-version': {
        const v = this._take(2);
        if (v === undefined || this._security.type !== 'vencrypt') return false;
        const r = vencryptVersionReply(v, vencryptSubtypes(this._security));
        this._transport.write(r.reply);
        if (r.error !== undefined) {
          this.fail(r.error);
          return false;
        }
        this._state = 'vencrypt-subtype';
        return true;
      }
      case 'vencrypt-subtype': {
        const c = this._take(4);
        if (c === undefined || this._security.type !== 'vencrypt') return false;
        const r = vencryptSubtypeReply(c, vencryptSubtypes(this._security));
        this._transport.write(r.reply);
        if (r.subtype === undefined) {
          this.fail(r.error ?? 'VeNCrypt subtype refused');
          return false;
        }
        if (this._transport.startTls === undefined) {
          this.fail('this transport cannot carry TLS');
          return false;
        }
        this._subtype = r.subtype;
        this._state = 'tls';
        // Whatever follows the subtype is TLS: it leaves this buffer for the transport's TLS.
        const pending = this._buf.slice(this._start, this._end);
        this._start = this._end = 0;
        this._transport.startTls(pending);
        return false;
      }
      case 'tls':
        return false;
      case 'vnc-auth': {
        const resp = this._take(VNC_CHALLENGE_BYTES);
        if (resp === undefined) return false;
        const password = this._password;
        if (password === undefined || this._challenge === undefined || !vncAuthCheck(password, this._challenge, resp)) {
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
      this._sendChallenge();
      return;
    }
    if (this._security.type === 'vencrypt') {
      this._transport.write(VENCRYPT_VERSION);
      this._state = 'vencrypt-version';
      return;
    }
    // None: only 3.8 sends a SecurityResult.
    if (this.version === '3.8') this._transport.write(this._u32(0));
    this._state = 'client-init';
  }

  private _sendChallenge(): void {
    this._challenge = vncChallenge();
    this._transport.write(this._challenge);
    this._state = 'vnc-auth';
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
