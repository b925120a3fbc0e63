import { Disposable } from '../base/Disposable.ts';
import { UnixSocket } from './dbus/UnixSocket.ts';

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Lines longer than this from QEMU end the connection (QMP replies are small). */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * A QMP client on QEMU's monitor socket: greeting, `qmp_capabilities`, then commands in order
 * (QMP answers in order; events are skipped). Fds go along with a command through SCM_RIGHTS
 * (what `getfd` takes), which is why this uses UnixSocket rather than node:net.
 */
export class Qmp extends Disposable {
  private _buf = '';
  private readonly _waiters: Waiter[] = [];
  private _greeting: Waiter | undefined;
  private _closed = '';
  public version = '';

  private constructor(private readonly _sock: UnixSocket) {
    super();
    this._register(_sock.onData(({ data, fds }) => this._data(data, fds)));
    this._register(_sock.onClose((why) => this._fail(why)));
  }

  /** Connect to the QMP socket at `path` and negotiate capabilities. */
  public static async connect(path: string, timeoutMs = 10_000): Promise<Qmp> {
    const q = new Qmp(UnixSocket.connect({ path }));
    const timer = setTimeout(() => q.close(`no QMP greeting within ${timeoutMs} ms`), timeoutMs);
    try {
      const greeting = new Promise<unknown>((resolve, reject) => { q._greeting = { resolve, reject }; });
      q._sock.start();
      const g = (await greeting) as { QMP?: { version?: { qemu?: { major: number; minor: number; micro: number } } } };
      const v = g.QMP?.version?.qemu;
      if (!v) throw new Error(`${path} is not a QMP socket`);
      q.version = `${v.major}.${v.minor}.${v.micro}`;
      await q.execute('qmp_capabilities');
      return q;
    } catch (e) {
      q.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Run a command; resolves with `return`, rejects with QMP's error description. */
  public execute(command: string, args?: Record<string, unknown>, fds: readonly number[] = []): Promise<unknown> {
    if (this._closed) return Promise.reject(new Error(`QMP closed: ${this._closed}`));
    return new Promise((resolve, reject) => {
      this._waiters.push({ resolve, reject });
      this._sock.write(Buffer.from(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`), fds);
    });
  }

  private _data(data: Uint8Array, fds: number[]): void {
    for (const fd of fds) UnixSocket.closeFd(fd);
    this._buf += Buffer.from(data).toString('utf8');
    if (this._buf.length > MAX_LINE) {
      this.close('QMP line too long');
      return;
    }
    let nl: number;
    while ((nl = this._buf.indexOf('\n')) >= 0) {
      const line = this._buf.slice(0, nl).trim();
      this._buf = this._buf.slice(nl + 1);
      if (line === '') continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.close('QMP sent something that is not JSON');
        return;
      }
      if ('QMP' in msg) {
        this._greeting?.resolve(msg);
        this._greeting = undefined;
      } else if ('return' in msg) {
        this._waiters.shift()?.resolve(msg.return);
      } else if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        this._waiters.shift()?.reject(new Error(`QMP ${e.class ?? 'error'}: ${e.desc ?? 'unknown'}`));
      }
    }
  }

  private _fail(why: string): void {
    this._closed = why || 'closed';
    const err = new Error(`QMP connection lost: ${this._closed}`);
    this._greeting?.reject(err);
    this._greeting = undefined;
    for (const w of this._waiters.splice(0)) w.reject(err);
  }

  public close(why = 'closed'): void {
    this._sock.close(why);
    this.dispose();
  }
}
