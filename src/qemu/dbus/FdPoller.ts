import koffi, { type KoffiFunc } from 'koffi';
import { libc, EFD_CLOEXEC, EFD_NONBLOCK } from '../../linux/Libc.ts';

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const MAX_FDS = 1024;

interface Watch {
  events: number;
  readonly cb: (revents: number) => void;
}

/**
 * Readiness for raw fds that libuv does not own (sockets we sendmsg/recvmsg with SCM_RIGHTS):
 * one blocking poll(2) runs on a libuv pool thread through koffi's async call, over every watched
 * fd plus an eventfd that wakes it when the set changes. The callbacks run on the main thread.
 * No poll runs while nothing is watched, so an idle poller never keeps the process alive. Fds are
 * closed through `closeFd` so a number is never reused while the pool thread still polls it.
 */
export class FdPoller {
  private static _instance: FdPoller | undefined;
  private readonly _watches = new Map<number, Watch>();
  private readonly _wake: number;
  private readonly _fds: bigint;
  private readonly _view: DataView;
  private readonly _poll: KoffiFunc<(...args: any[]) => any>;
  private _running = false;
  private _deferredClose: number[] = [];
  private _order: number[] = [];

  public static get(): FdPoller {
    return (FdPoller._instance ??= new FdPoller());
  }

  private constructor() {
    const c = libc();
    this._wake = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this._wake < 0) throw new Error(`eventfd failed (errno ${c.errno()})`);
    this._fds = koffi.alloc('uint8', 8 * (MAX_FDS + 1)) as unknown as bigint;
    this._view = new DataView(koffi.view(this._fds, 8 * (MAX_FDS + 1)));
    this._poll = koffi.load('libc.so.6').func('int poll(void *fds, unsigned long nfds, int timeout)');
  }

  public get watched(): number {
    return this._watches.size;
  }

  /** Watch `fd` for `events` (POLLIN/POLLOUT); replaces an earlier watch of the same fd. */
  public watch(fd: number, events: number, cb: (revents: number) => void): void {
    if (!this._watches.has(fd) && this._watches.size >= MAX_FDS) throw new RangeError('FdPoller: too many fds');
    this._watches.set(fd, { events, cb });
    this._kick();
  }

  public setEvents(fd: number, events: number): void {
    const w = this._watches.get(fd);
    if (w === undefined || w.events === events) return;
    w.events = events;
    this._kick();
  }

  /** Stop watching and close the fd once no poll can still be looking at it. */
  public closeFd(fd: number): void {
    this._watches.delete(fd);
    if (this._running) {
      this._deferredClose.push(fd);
      this._signal();
    } else {
      libc().close(fd);
    }
  }

  private _signal(): void {
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this._wake, one, 8);
  }

  /** Start a poll, or make the running one return so the next sees the new set. */
  private _kick(): void {
    if (this._running) this._signal();
    else this._start();
  }

  private _start(): void {
    if (this._running || this._watches.size === 0) return;
    const v = this._view;
    v.setInt32(0, this._wake, true);
    v.setInt16(4, POLLIN, true);
    v.setInt16(6, 0, true);
    this._order = [...this._watches.keys()];
    this._order.forEach((fd, i) => {
      v.setInt32(8 * (i + 1), fd, true);
      v.setInt16(8 * (i + 1) + 4, this._watches.get(fd)!.events, true);
      v.setInt16(8 * (i + 1) + 6, 0, true);
    });
    this._running = true;
    this._poll.async(this._fds, this._order.length + 1, -1, (err: unknown, n: number) => this._done(err, n));
  }

  private _done(err: unknown, n: number): void {
    this._running = false;
    for (const fd of this._deferredClose) libc().close(fd);
    this._deferredClose = [];
    const v = this._view;
    if (v.getInt16(6, true) !== 0) {
      const buf = new Uint8Array(8);
      libc().read(this._wake, buf, 8);
    }
    if (err === null && n > 0) {
      this._order.forEach((fd, i) => {
        const revents = v.getInt16(8 * (i + 1) + 6, true);
        const w = this._watches.get(fd);
        // A watch replaced or dropped while the poll ran is skipped: it re-polls below.
        if (revents !== 0 && w !== undefined) {
          try {
            w.cb(revents);
          } catch (e) {
            queueMicrotask(() => { throw e; });
          }
        }
      });
    }
    this._start();
  }
}
