import koffi, { type KoffiFunc } from 'koffi';
import { Disposable } from '../../base/Disposable.ts';
import { Emitter } from '../../base/Emitter.ts';
import { libc } from '../../linux/Libc.ts';
import { FdPoller, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT } from './FdPoller.ts';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_CTRUNC = 0x8;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const EAGAIN = 11;
const EINTR = 4;
const EINPROGRESS = 115;

/** Bytes read per recvmsg. */
const READ_CHUNK = 256 * 1024;
/** Fds accepted per recvmsg; more sets MSG_CTRUNC and the connection is dropped. */
export const MAX_FDS_PER_READ = 32;
const CONTROL_LEN = 16 + 4 * MAX_FDS_PER_READ;
/** Bytes queued for a peer that does not read before the socket gives up on it. */
const MAX_WRITE_QUEUE = 32 * 1024 * 1024;

interface Native {
  socket: KoffiFunc<(...args: any[]) => any>;
  socketpair: KoffiFunc<(...args: any[]) => any>;
  connect: KoffiFunc<(...args: any[]) => any>;
  sendmsg: KoffiFunc<(...args: any[]) => any>;
  recvmsg: KoffiFunc<(...args: any[]) => any>;
  getuid: KoffiFunc<(...args: any[]) => any>;
}

let _native: Native | undefined;
function native(): Native {
  if (_native) return _native;
  const lib = koffi.load('libc.so.6');
  _native = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    socketpair: lib.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
    connect: lib.func('int connect(int fd, void *addr, uint32_t len)'),
    sendmsg: lib.func('long sendmsg(int fd, void *msg, int flags)'),
    recvmsg: lib.func('long recvmsg(int fd, void *msg, int flags)'),
    getuid: lib.func('uint32_t getuid()'),
  };
  return _native;
}

export function getuid(): number {
  return native().getuid() as number;
}

/** A connected AF_UNIX stream pair (both ends close-on-exec, blocking). */
export function socketPair(): [number, number] {
  const sv = [0, 0];
  if ((native().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) as number) < 0) {
    throw new Error(`socketpair failed (errno ${koffi.errno()})`);
  }
  return [sv[0]!, sv[1]!];
}

/** What a read delivered: bytes and the fds that came with them (owned by the receiver). */
export interface Received {
  readonly data: Uint8Array;
  readonly fds: number[];
}

/**
 * A unix stream socket driven by sendmsg/recvmsg, so SCM_RIGHTS fds travel both ways (libuv
 * drops them). Reads are never paused: data goes to `onData` as it comes. Writes queue (bounded)
 * when the peer is slow. Closing is idempotent and fires `onClose` once.
 */
export class UnixSocket extends Disposable {
  private readonly _onData = this._register(new Emitter<Received>());
  public readonly onData = this._onData.event;
  private readonly _onClose = this._register(new Emitter<string>());
  public readonly onClose = this._onClose.event;
  public readonly fd: number;
  private _closed = false;
  private readonly _queue: { data: Uint8Array; fds: number[] }[] = [];
  private _queued = 0;
  private readonly _rx: bigint;
  private readonly _rxView: Uint8Array;
  private readonly _msg: bigint;
  private readonly _msgView: DataView;
  private readonly _ctl: bigint;
  private readonly _ctlView: DataView;
  private readonly _iov: bigint;
  private readonly _iovView: DataView;
  private _started = false;
  public bytesRead = 0;
  public bytesWritten = 0;

  /** Takes ownership of `fd` (made non-blocking). */
  public constructor(fd: number) {
    super();
    this.fd = fd;
    const c = libc();
    const fl = c.fcntl(fd, F_GETFL);
    if (fl < 0 || c.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw new Error(`fd ${fd}: not usable (errno ${c.errno()})`);
    this._rx = koffi.alloc('uint8', READ_CHUNK) as unknown as bigint;
    this._rxView = new Uint8Array(koffi.view(this._rx, READ_CHUNK));
    this._msg = koffi.alloc('uint8', 56) as unknown as bigint;
    this._msgView = new DataView(koffi.view(this._msg, 56));
    this._ctl = koffi.alloc('uint8', CONTROL_LEN) as unknown as bigint;
    this._ctlView = new DataView(koffi.view(this._ctl, CONTROL_LEN));
    this._iov = koffi.alloc('uint8', 16) as unknown as bigint;
    this._iovView = new DataView(koffi.view(this._iov, 16));
  }

  /** Connect to a filesystem (`path`) or abstract (`abstract`) unix socket address. */
  public static connect(address: { path?: string; abstract?: string }): UnixSocket {
    const n = native();
    const fd = n.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw new Error(`socket failed (errno ${koffi.errno()})`);
    const name = Buffer.from(address.path ?? address.abstract ?? '', 'utf8');
    if (name.length === 0 || name.length > 107) {
      libc().close(fd);
      throw new Error('unix socket address must be 1..107 bytes');
    }
    const sa = Buffer.alloc(110);
    sa.writeUInt16LE(AF_UNIX, 0);
    const off = address.path !== undefined ? 2 : 3;
    name.copy(sa, off);
    const len = address.path !== undefined ? 2 + name.length + 1 : 3 + name.length;
    let r: number;
    do r = n.connect(fd, sa, len) as number; while (r < 0 && koffi.errno() === EINTR);
    if (r < 0 && koffi.errno() !== EINPROGRESS) {
      const e = koffi.errno();
      libc().close(fd);
      throw new Error(`connect ${address.path ?? `@${address.abstract}`}: errno ${e}${e === 2 ? ' (ENOENT)' : e === 111 ? ' (ECONNREFUSED)' : ''}`);
    }
    return new UnixSocket(fd);
  }

  /** Close an fd that arrived by SCM_RIGHTS and is not wanted. */
  public static closeFd(fd: number): void {
    libc().close(fd);
  }

  public get closed(): boolean {
    return this._closed;
  }

  /** Start delivering `onData` (attach the handlers first). */
  public start(): void {
    if (this._started || this._closed) return;
    this._started = true;
    FdPoller.get().watch(this.fd, POLLIN, (rev) => this._ready(rev));
  }

  /** Queue bytes (and fds, sent with the first byte; the caller keeps its own copies). */
  public write(data: Uint8Array, fds: readonly number[] = []): void {
    if (this._closed) return;
    if (this._queued + data.length > MAX_WRITE_QUEUE) {
      this.close('peer does not read (write queue full)');
      return;
    }
    this._queue.push({ data, fds: [...fds] });
    this._queued += data.length;
    if (this._queue.length === 1) this._flush();
  }

  private _ready(revents: number): void {
    if (revents & POLLOUT) this._flush();
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) this._read();
  }

  private _read(): void {
    const n = native();
    // Bounded per wake-up, so one flooding peer cannot starve the others.
    for (let i = 0; i < 64 && !this._closed; i++) {
      const m = this._msgView;
      this._iovView.setBigUint64(0, this._rx, true);
      this._iovView.setBigUint64(8, BigInt(READ_CHUNK), true);
      m.setBigUint64(0, 0n, true);
      m.setUint32(8, 0, true);
      m.setBigUint64(16, this._iov, true);
      m.setBigUint64(24, 1n, true);
      m.setBigUint64(32, this._ctl, true);
      m.setBigUint64(40, BigInt(CONTROL_LEN), true);
      m.setInt32(48, 0, true);
      const r = Number(n.recvmsg(this.fd, this._msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      if (r < 0) {
        const e = koffi.errno();
        if (e === EAGAIN || e === EINTR) return;
        this.close(`recvmsg: errno ${e}`);
        return;
      }
      const fds = this._takeFds(Number(m.getBigUint64(40, true)));
      if (m.getInt32(48, true) & MSG_CTRUNC) {
        for (const fd of fds) libc().close(fd);
        this.close('peer sent more fds than one read accepts');
        return;
      }
      if (r === 0) {
        for (const fd of fds) libc().close(fd);
        this.close('peer closed the connection');
        return;
      }
      this.bytesRead += r;
      // The one copy out of the native receive buffer (it is reused by the next read).
      const data = new Uint8Array(r);
      data.set(this._rxView.subarray(0, r));
      this._onData.fire({ data, fds });
      if (r < READ_CHUNK) return;
    }
  }

  private _takeFds(controlLen: number): number[] {
    const fds: number[] = [];
    let off = 0;
    const c = this._ctlView;
    while (off + 16 <= controlLen) {
      const len = Number(c.getBigUint64(off, true));
      if (len < 16 || off + len > controlLen) break;
      if (c.getInt32(off + 8, true) === SOL_SOCKET && c.getInt32(off + 12, true) === SCM_RIGHTS) {
        for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(c.getInt32(p, true));
      }
      off += (len + 7) & ~7;
    }
    return fds;
  }

  private _flush(): void {
    const n = native();
    while (this._queue.length > 0 && !this._closed) {
      const head = this._queue[0]!;
      const len = Math.min(head.data.length, READ_CHUNK);
      const tx = koffi.alloc('uint8', Math.max(1, len)) as unknown as bigint;
      try {
        new Uint8Array(koffi.view(tx, Math.max(1, len))).set(head.data.subarray(0, len));
        const m = this._msgView;
        this._iovView.setBigUint64(0, tx, true);
        this._iovView.setBigUint64(8, BigInt(len), true);
        m.setBigUint64(0, 0n, true);
        m.setUint32(8, 0, true);
        m.setBigUint64(16, this._iov, true);
        m.setBigUint64(24, 1n, true);
        if (head.fds.length > 0) {
          const clen = 16 + 4 * head.fds.length;
          const c = this._ctlView;
          c.setBigUint64(0, BigInt(clen), true);
          c.setInt32(8, SOL_SOCKET, true);
          c.setInt32(12, SCM_RIGHTS, true);
          head.fds.forEach((fd, i) => c.setInt32(16 + 4 * i, fd, true));
          m.setBigUint64(32, this._ctl, true);
          m.setBigUint64(40, BigInt((clen + 7) & ~7), true);
        } else {
          m.setBigUint64(32, 0n, true);
          m.setBigUint64(40, 0n, true);
        }
        m.setInt32(48, 0, true);
        const r = Number(n.sendmsg(this.fd, this._msg, MSG_DONTWAIT | MSG_NOSIGNAL));
        if (r < 0) {
          const e = koffi.errno();
          if (e === EINTR) continue;
          if (e === EAGAIN) {
            FdPoller.get().setEvents(this.fd, POLLIN | POLLOUT);
            return;
          }
          this.close(`sendmsg: errno ${e}`);
          return;
        }
        this.bytesWritten += r;
        head.fds = [];
        this._queued -= r;
        if (r >= head.data.length) this._queue.shift();
        else head.data = head.data.subarray(r);
      } finally {
        koffi.free(tx);
      }
    }
    if (this._started && !this._closed) FdPoller.get().setEvents(this.fd, POLLIN);
  }

  public close(reason = 'closed'): void {
    if (this._closed) return;
    this._closed = true;
    this._queue.length = 0;
    FdPoller.get().closeFd(this.fd);
    this._onClose.fire(reason);
    this.dispose();
  }

  public override dispose(): void {
    if (!this._closed) {
      this.close();
      return;
    }
    if (this.isDisposed) return;
    super.dispose();
    for (const p of [this._rx, this._msg, this._ctl, this._iov]) koffi.free(p);
  }
}
