import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { siblingModule } from '../../guest/host/startWorker.ts';

interface Report { kind: string; conn?: number; type?: number; sock?: number; messages?: number; id?: number; message?: string }

/**
 * The parent's handle on a WireClient child process (one process, any number of connections in
 * turn): connect it to a server, wait for reported messages, ask for the bytes its socket has read.
 * Everything waits on content; timeouts are only a guard.
 */
export class WireProbe {
  /** Bytes the current connection's TCP socket has read (as of the last report). */
  public sock = 0;
  public messages = 0;
  private readonly _child: ChildProcess;
  private _conn = 0;
  private _openConn = 0;
  private _ready = false;
  private readonly _seen = new Map<number, number>();
  private readonly _waiters = new Set<{ test: () => boolean; done: () => void }>();
  private readonly _answers = new Map<number, () => void>();
  private _nextId = 1;
  private _exited = false;
  private _error: string | undefined;

  private constructor() {
    // From the sources the child registers tsx first; compiled (the package) it runs the .js.
    const entry = siblingModule('./WireClient.ts', import.meta.url);
    const argv = entry.pathname.endsWith('.ts')
      ? ['--input-type=module', '-e', `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`]
      : [fileURLToPath(entry)];
    this._child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this._child.on('message', (m: Report) => this._onReport(m));
    this._child.on('exit', () => {
      this._exited = true;
      this._wake();
    });
  }

  /** Start the client process. */
  public static async spawn(timeoutMs = 60_000): Promise<WireProbe> {
    const p = new WireProbe();
    try {
      await p._until(() => p._ready, 'the client process', timeoutMs);
    } catch (err) {
      p._child.kill();
      throw err;
    }
    return p;
  }

  /** Connect (dropping any previous connection) and wait until the socket is open. */
  public async connect(url: string, vm: string, reportTypes: readonly number[], timeoutMs = 30_000): Promise<void> {
    const conn = ++this._conn;
    this._seen.clear();
    this.sock = 0;
    this.messages = 0;
    this._child.send({ kind: 'connect', url, vm, types: [...reportTypes] });
    await this._until(() => this._openConn === conn, `connection to ${url}`, timeoutMs);
  }

  public disconnect(): void {
    if (!this._exited) this._child.send({ kind: 'disconnect' });
  }

  /** Messages of `type` reported on the current connection. */
  public count(type: number): number {
    return this._seen.get(type) ?? 0;
  }

  /** Resolve once `n` messages of `type` have arrived on the current connection. */
  public waitCount(type: number, n: number, timeoutMs = 30_000): Promise<void> {
    return this._until(() => this.count(type) >= n, `${n} messages of type 0x${type.toString(16)}`, timeoutMs);
  }

  /** The current connection's socket byte count now (a round trip to the child). */
  public async bytes(): Promise<number> {
    const id = this._nextId++;
    const done = new Promise<void>((resolve) => this._answers.set(id, resolve));
    this._child.send({ kind: 'bytes', id });
    await Promise.race([done, this._until(() => this._exited, 'a byte count', 30_000)]);
    return this.sock;
  }

  /** Bytes once nothing more arrived for `quietMs` (the server has finished sending). */
  public async settledBytes(quietMs = 30, maxMs = 10_000): Promise<number> {
    const t0 = performance.now();
    let last = await this.bytes();
    for (;;) {
      await new Promise((r) => setTimeout(r, quietMs));
      const now = await this.bytes();
      if (now === last || performance.now() - t0 > maxMs) return now;
      last = now;
    }
  }

  /** End the client process. */
  public async close(): Promise<void> {
    if (this._exited) return;
    this._child.send({ kind: 'exit' });
    await this._until(() => this._exited, 'exit', 5000).catch(() => this._child.kill());
  }

  private _onReport(m: Report): void {
    const current = m.conn === undefined || m.conn === this._conn;
    if (current && m.sock !== undefined) this.sock = m.sock;
    if (current && m.messages !== undefined) this.messages = m.messages;
    if (m.kind === 'ready') this._ready = true;
    else if (m.kind === 'open' && m.conn !== undefined) this._openConn = m.conn;
    else if (m.kind === 'msg' && current && m.type !== undefined) this._seen.set(m.type, this.count(m.type) + 1);
    else if (m.kind === 'bytes' && m.id !== undefined) {
      this._answers.get(m.id)?.();
      this._answers.delete(m.id);
    } else if (m.kind === 'error') this._error = m.message;
    this._wake();
  }

  private _wake(): void {
    for (const w of [...this._waiters]) if (w.test()) w.done();
  }

  private _until(test: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const why = (): string => (this._error ? ` (${this._error})` : '');
      const w = {
        test: () => test() || this._exited,
        done: () => {
          this._waiters.delete(w);
          clearTimeout(timer);
          if (test()) resolve();
          else reject(new Error(`wire client exited while waiting for ${what}${why()}`));
        },
      };
      const timer = setTimeout(() => {
        this._waiters.delete(w);
        reject(new Error(`wire client: timed out waiting for ${what}${why()}`));
      }, timeoutMs);
      this._waiters.add(w);
    });
  }
}
