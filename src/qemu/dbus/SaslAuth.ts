import { getuid } from './UnixSocket.ts';

/**
 * D-Bus SASL (spec "Authentication Protocol"), EXTERNAL only, as a line state machine fed with
 * the bytes the socket delivers. The client side is what a QEMU listener speaks (QEMU is the
 * server on the socketpair); the server side is for peer-to-peer objects we offer and for tests.
 */

const MAX_LINE = 16 * 1024;
const MAX_COMMANDS = 16;

export interface SaslStep {
  /** Bytes to send to the peer. */
  readonly send: string[];
  /** Set once BEGIN went by: the bytes after it are D-Bus messages. */
  readonly done?: { readonly rest: Uint8Array; readonly unixFds: boolean; readonly guid: string };
  /** The peer broke the protocol or refused us. */
  readonly error?: string;
}

function hex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

abstract class LineMachine {
  private _buf = Buffer.alloc(0);
  protected _commands = 0;

  public feed(data: Uint8Array): SaslStep {
    this._buf = Buffer.concat([this._buf, data]);
    const send: string[] = [];
    for (;;) {
      const nl = this._buf.indexOf('\r\n');
      if (nl < 0) {
        if (this._buf.length > MAX_LINE) return { send, error: 'authentication line too long' };
        return { send };
      }
      const line = this._buf.subarray(0, nl).toString('latin1');
      this._buf = this._buf.subarray(nl + 2);
      if (++this._commands > MAX_COMMANDS) return { send, error: 'too many authentication commands' };
      const r = this._line(line);
      send.push(...r.send);
      if (r.error !== undefined) return { send, error: r.error };
      if (r.begin) return { send, done: { rest: new Uint8Array(this._buf), unixFds: r.begin.unixFds, guid: r.begin.guid } };
    }
  }

  protected abstract _line(line: string): { send: string[]; error?: string; begin?: { unixFds: boolean; guid: string } };
}

/** Client: `\0AUTH EXTERNAL <hex uid>`, then NEGOTIATE_UNIX_FD, then BEGIN. */
export class SaslClient extends LineMachine {
  private _state: 'auth' | 'fd' = 'auth';
  private _guid = '';

  public constructor(private readonly _wantFds = true) {
    super();
  }

  public start(): string {
    return `\0AUTH EXTERNAL ${hex(String(getuid()))}\r\n`;
  }

  protected _line(line: string): { send: string[]; error?: string; begin?: { unixFds: boolean; guid: string } } {
    const [cmd, arg = ''] = line.split(' ', 2);
    if (this._state === 'auth') {
      if (cmd === 'OK') {
        if (!/^[0-9a-f]{32}$/.test(arg)) return { send: [], error: `server GUID '${arg.slice(0, 40)}' is malformed` };
        this._guid = arg;
        if (!this._wantFds) return { send: ['BEGIN\r\n'], begin: { unixFds: false, guid: arg } };
        this._state = 'fd';
        return { send: ['NEGOTIATE_UNIX_FD\r\n'] };
      }
      if (cmd === 'REJECTED') return { send: [], error: `server rejected EXTERNAL (offers: ${arg || 'nothing'})` };
      if (cmd === 'DATA') return { send: ['DATA\r\n'] };
      return { send: [], error: `unexpected '${line.slice(0, 60)}' during AUTH` };
    }
    if (cmd === 'AGREE_UNIX_FD') return { send: ['BEGIN\r\n'], begin: { unixFds: true, guid: this._guid } };
    if (cmd === 'ERROR') return { send: ['BEGIN\r\n'], begin: { unixFds: false, guid: this._guid } };
    return { send: [], error: `unexpected '${line.slice(0, 60)}' after NEGOTIATE_UNIX_FD` };
  }
}

/** Server: accepts EXTERNAL for our own uid (the socket is ours; the peer is the same user). */
export class SaslServer extends LineMachine {
  private _nul = false;
  private _authed = false;
  private _unixFds = false;
  private _waitingData = false;
  public readonly guid: string;

  public constructor() {
    super();
    this.guid = Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
  }

  public override feed(data: Uint8Array): SaslStep {
    if (!this._nul && data.length > 0) {
      if (data[0] !== 0) return { send: [], error: 'client did not send the initial nul byte' };
      this._nul = true;
      data = data.subarray(1);
    }
    return super.feed(data);
  }

  private _check(hexUid: string): { send: string[] } {
    const uid = /^([0-9a-fA-F]{2})*$/.test(hexUid) ? Buffer.from(hexUid, 'hex').toString('latin1') : '';
    if (hexUid === '' || uid === String(getuid())) {
      this._authed = true;
      return { send: [`OK ${this.guid}\r\n`] };
    }
    return { send: ['REJECTED EXTERNAL\r\n'] };
  }

  protected _line(line: string): { send: string[]; error?: string; begin?: { unixFds: boolean; guid: string } } {
    const parts = line.split(' ');
    const cmd = parts[0];
    if (this._waitingData) {
      this._waitingData = false;
      if (cmd === 'DATA') return this._check(parts[1] ?? '');
      return { send: ['REJECTED EXTERNAL\r\n'] };
    }
    switch (cmd) {
      case 'AUTH':
        if (this._authed) return { send: ['ERROR "already authenticated"\r\n'] };
        if (parts[1] !== 'EXTERNAL') return { send: ['REJECTED EXTERNAL\r\n'] };
        if (parts.length === 2) {
          this._waitingData = true;
          return { send: ['DATA\r\n'] };
        }
        return this._check(parts[2] ?? '');
      case 'NEGOTIATE_UNIX_FD':
        if (!this._authed) return { send: ['ERROR "not authenticated"\r\n'] };
        this._unixFds = true;
        return { send: ['AGREE_UNIX_FD\r\n'] };
      case 'BEGIN':
        if (!this._authed) return { send: [], error: 'BEGIN before authentication' };
        return { send: [], begin: { unixFds: this._unixFds, guid: this.guid } };
      case 'CANCEL':
      case 'ERROR':
        return { send: ['REJECTED EXTERNAL\r\n'] };
      default:
        return { send: ['ERROR "unknown command"\r\n'] };
    }
  }
}
