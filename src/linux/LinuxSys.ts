import type { IDisposable } from '../base/Disposable.ts';
import { Errno } from '../base/Errno.ts';
import { VFIO_DEVICE_GET_GFX_DMABUF, VFIO_GROUP_GET_DEVICE_FD } from '../vfio/Abi.ts';
import { PROT_READ, type Mapping, type Sys } from '../vfio/Sys.ts';
import {
  EFD_CLOEXEC, EFD_NONBLOCK, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, FD_CLOEXEC, MAP_FAILED,
  MAP_SHARED, O_ACCMODE, O_CLOEXEC, POLLIN, SEEK_END, libc, type Libc,
} from './Libc.ts';

const PAGE_SIZE = 4096;

/** Requests whose non-negative result is a new fd (we make each one close-on-exec). */
const FD_RETURNING = new Set<number>([VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_GFX_DMABUF]);

export interface LinuxSysOptions {
  /** onReadable's poll interval, ms (default 10). */
  pollIntervalMs?: number;
  /**
   * Answer a second GET_GFX_DMABUF for an id whose dma-buf fd we still hold with dup() of that fd
   * instead of asking the kernel again (default true). mbochs (6.1 and later) installs the same
   * dma-buf file twice without taking a reference, so closing both fds over-puts the file
   * (`VFS: Close: file count is 0`, a kernel WARNING). A dup is what a fixed driver would return.
   */
  guardDoubleGet?: boolean;
  /**
   * When mmap of a non-page-multiple length fails with EINVAL, map the whole pages and give a
   * zero-filled tail (default true). The dma-buf core refuses a mapping whose page count exceeds
   * size >> PAGE_SHIFT, and mbochs exports size = stride × height unrounded (800x600x4 = 1920000:
   * only 1916928 bytes can be mapped; the last 3072 bytes are unreachable from userspace).
   */
  shortMapFallback?: boolean;
  /** The libc to call (tests wrap the real one to play the kernel's part). */
  libc?: Libc;
}

/** What LinuxSys did to work around kernel behaviour (for quirk reports and tests). */
export interface LinuxSysStats {
  /** fds returned by an ioctl without FD_CLOEXEC that we marked close-on-exec (mbochs dma-bufs). */
  cloexecFixed: number;
  /** Second GETs of a held id answered with dup() instead of the kernel (see guardDoubleGet). */
  doubleGetsAvoided: number;
  /** GETs of a released id of a pinned device answered from the pin (see pinDmabufs). */
  reexportsAvoided: number;
  /** Mappings whose tail could not be mapped and reads as zeros (see shortMapFallback). */
  shortMaps: number;
}

/** A LinuxSys mapping: one chunk over the mmap, plus a zero tail when the kernel refused it. */
export interface LinuxMapping extends Mapping {
  /** Bytes actually backed by the file (less than `length` for a short map). */
  readonly backedLength: number;
  /** The mapped address (for diagnostics). */
  readonly address: bigint;
}

/**
 * Sys over a real Linux kernel: libc through koffi. Failures come back as `-errno` (never thrown);
 * every fd we open or receive is close-on-exec.
 *
 * onReadable polls the fd with poll(2) on a timer: real kernels have no display IRQ (our display
 * event extension does not exist there; QEMU polls QUERY_GFX_PLANE per frame), so the only
 * eventfd signals are ones userspace writes itself. The timer is unref'd: a subscription alone
 * does not keep the process alive.
 */
export class LinuxSys implements Sys {
  public readonly stats: LinuxSysStats = { cloexecFixed: 0, doubleGetsAvoided: 0, reexportsAvoided: 0, shortMaps: 0 };
  private readonly _c: Libc;
  private readonly _pollMs: number;
  private readonly _guard: boolean;
  private readonly _shortMap: boolean;
  /** device fd → dmabuf_id → the dma-buf fds we hold for it (for guardDoubleGet). */
  private readonly _held = new Map<number, Map<number, Set<number>>>();
  /** dma-buf fd → where it is recorded in _held. */
  private readonly _heldBy = new Map<number, { dev: number; id: number }>();
  /** Pinned device fd → dmabuf_id → our own fd of that dma-buf (see pinDmabufs). */
  private readonly _pins = new Map<number, Map<number, number>>();
  /** Open fds that the kernel handed us without FD_CLOEXEC (we set it). */
  private readonly _fixedCloexec = new Set<number>();

  public constructor(opts: LinuxSysOptions = {}) {
    this._c = opts.libc ?? libc();
    this._pollMs = opts.pollIntervalMs ?? 10;
    this._guard = opts.guardDoubleGet ?? true;
    this._shortMap = opts.shortMapFallback ?? true;
  }

  private _err(): number {
    const e = this._c.errno();
    return e > 0 ? -e : -Errno.EIO;
  }

  // ---- beyond Sys: what opening a device needs -------------------------------------------------

  /** open(2), always with O_CLOEXEC. */
  public open(path: string, flags: number): number {
    const fd = this._c.open(path, flags | O_CLOEXEC);
    return fd < 0 ? this._err() : fd;
  }

  /** ioctl with an integer argument (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU). */
  public ioctlInt(fd: number, request: number, value: number): number {
    const r = this._c.ioctlInt(fd, request, value);
    return r < 0 ? this._err() : r;
  }

  /** ioctl with a string argument (VFIO_GROUP_GET_DEVICE_FD); a returned fd is made cloexec. */
  public ioctlString(fd: number, request: number, s: string): number {
    const r = this._c.ioctlStr(fd, request, s);
    if (r < 0) return this._err();
    if (FD_RETURNING.has(request)) this._ensureCloexec(r);
    return r;
  }

  /** Size of a file by lseek(SEEK_END) (a dma-buf's exact size), or -errno. */
  public fileSize(fd: number): number {
    const r = this._c.lseek(fd, 0, SEEK_END);
    return r < 0 ? this._err() : r;
  }

  /** O_RDONLY (0), O_WRONLY (1) or O_RDWR (2) of an open file, or -errno. */
  public accessMode(fd: number): number {
    const r = this._c.fcntl(fd, F_GETFL);
    return r < 0 ? this._err() : r & O_ACCMODE;
  }

  /** Set or clear FD_CLOEXEC. */
  public setCloexec(fd: number, on: boolean): number {
    const r = this._c.fcntl(fd, F_GETFD);
    if (r < 0) return this._err();
    const want = on ? r | FD_CLOEXEC : r & ~FD_CLOEXEC;
    return this._c.fcntl(fd, F_SETFD, want) < 0 ? this._err() : 0;
  }

  /**
   * Keep one fd of every dma-buf exported by device `devFd` until the device fd is closed, and
   * answer every later GET of that id with a dup of it. For mbochs (6.1 and later): once all fds of
   * a dma-buf are closed, GET of the same id re-exports the listed buffer without taking new page
   * references, and its release drops them a second time (VRAM pages freed while still in use:
   * "BUG: Bad page state"). Pinned, each buffer is exported and released once. Costs one fd per
   * exported id; the pages are VRAM the device holds anyway.
   */
  public pinDmabufs(devFd: number): void {
    if (!this._pins.has(devFd)) this._pins.set(devFd, new Map());
  }

  /**
   * True when the kernel returned `fd` (from an ioctl) without FD_CLOEXEC and we set it: what a
   * conformance check reads to report mbochs' dma_buf_fd(buf, 0), which getCloexec no longer shows.
   */
  public receivedWithoutCloexec(fd: number): boolean {
    return this._fixedCloexec.has(fd);
  }

  /** Add `value` to an eventfd's counter (write(2) of 8 bytes). */
  public signalEventfd(fd: number, value = 1n): number {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    const r = this._c.write(fd, b, 8);
    return r < 0 ? this._err() : 0;
  }

  // ---- Sys ------------------------------------------------------------------------------------

  public ioctl(fd: number, request: number, arg: Uint8Array): number {
    if (!Number.isInteger(request) || request < 0 || request > 0xffff_ffff) return -Errno.ENOTTY;
    let id = -1;
    if (request === VFIO_DEVICE_GET_GFX_DMABUF && arg.byteLength >= 4) {
      id = new DataView(arg.buffer, arg.byteOffset, 4).getUint32(0, true);
      const dup = this._guard ? this._dupHeld(fd, id) : -1;
      if (dup >= 0) return dup;
      const pin = this._pins.get(fd)?.get(id);
      if (pin !== undefined) {
        const r = this._c.fcntl(pin, F_DUPFD_CLOEXEC, 0);
        if (r < 0) return this._err();
        this._hold(fd, id, r);
        this.stats.reexportsAvoided++;
        return r;
      }
    }
    const r = this._c.ioctlPtr(fd, request, arg.byteLength > 0 ? arg : null);
    if (r < 0) return this._err();
    if (FD_RETURNING.has(request)) {
      this._ensureCloexec(r);
      if (id >= 0) {
        this._hold(fd, id, r);
        const pins = this._pins.get(fd);
        if (pins) {
          const pin = this._c.fcntl(r, F_DUPFD_CLOEXEC, 0);
          if (pin >= 0) pins.set(id, pin);
        }
      }
    }
    return r;
  }

  public pread(fd: number, buf: Uint8Array, offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < 0) return -Errno.EINVAL;
    const r = this._c.pread(fd, buf, buf.byteLength, offset);
    return r < 0 ? this._err() : r;
  }

  public pwrite(fd: number, buf: Uint8Array, offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < 0) return -Errno.EINVAL;
    const r = this._c.pwrite(fd, buf, buf.byteLength, offset);
    return r < 0 ? this._err() : r;
  }

  public mmap(fd: number, offset: number, length: number, prot: number = PROT_READ): Mapping | number {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
      return -Errno.EINVAL;
    }
    const addr = this._c.mmap(length, prot, MAP_SHARED, fd, offset);
    if (addr !== MAP_FAILED) return this._mapping(addr, length, length);
    const err = this._err();
    const whole = length - (length % PAGE_SIZE);
    if (!this._shortMap || err !== -Errno.EINVAL || whole === 0 || whole === length) return err;
    const again = this._c.mmap(whole, prot, MAP_SHARED, fd, offset);
    if (again === MAP_FAILED) return err;
    this.stats.shortMaps++;
    return this._mapping(again, whole, length);
  }

  public close(fd: number): number {
    const r = this._c.close(fd);
    if (r < 0) return this._err();
    this._forget(fd);
    const pins = this._pins.get(fd);
    if (pins) {
      // The device is closed (its dma-buf list unlinked): now each buffer may be released once.
      this._pins.delete(fd);
      for (const pin of pins.values()) this._c.close(pin);
    }
    return 0;
  }

  public dup(fd: number): number {
    const r = this._c.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (r < 0) return this._err();
    const held = this._heldBy.get(fd);
    if (held) this._hold(held.dev, held.id, r);
    return r;
  }

  public eventfd(): number {
    const r = this._c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return r < 0 ? this._err() : r;
  }

  public readEventfd(fd: number): bigint | number {
    const b = new Uint8Array(8);
    const r = this._c.read(fd, b, 8);
    if (r < 0) return this._err();
    if (r !== 8) return -Errno.EINVAL;
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  public onReadable(fd: number, cb: () => void): IDisposable {
    const pfd = new Uint8Array(8);
    const v = new DataView(pfd.buffer);
    const timer = setInterval(() => {
      v.setInt32(0, fd, true);
      v.setInt16(4, POLLIN, true);
      v.setInt16(6, 0, true);
      const n = this._c.poll(pfd, 1, 0);
      if (n > 0 && (v.getInt16(6, true) & POLLIN) !== 0) cb();
    }, this._pollMs);
    timer.unref();
    let done = false;
    return { dispose: () => { if (!done) { done = true; clearInterval(timer); } } };
  }

  public getCloexec(fd: number): boolean | number {
    const r = this._c.fcntl(fd, F_GETFD);
    return r < 0 ? this._err() : (r & FD_CLOEXEC) !== 0;
  }

  // ---- internals ------------------------------------------------------------------------------

  private _mapping(addr: bigint, backed: number, length: number): LinuxMapping {
    const c = this._c;
    const chunks: Uint8Array[] = [new Uint8Array(c.view(addr, backed))];
    const chunkOffsets = [0];
    if (backed < length) {
      chunks.push(new Uint8Array(length - backed));
      chunkOffsets.push(backed);
    }
    let mapped = true;
    return {
      length, chunks, chunkOffsets, backedLength: backed, address: addr,
      // Views over the mapping must not be touched after this: the memory is gone.
      unmap: () => { if (mapped) { mapped = false; c.munmap(addr, backed); } },
    };
  }

  private _ensureCloexec(fd: number): void {
    const r = this._c.fcntl(fd, F_GETFD);
    if (r >= 0 && (r & FD_CLOEXEC) === 0) {
      this._c.fcntl(fd, F_SETFD, r | FD_CLOEXEC);
      this.stats.cloexecFixed++;
      this._fixedCloexec.add(fd);
    }
  }

  private _dupHeld(dev: number, id: number): number {
    const fds = this._held.get(dev)?.get(id);
    if (!fds) return -1;
    for (const held of fds) {
      const r = this._c.fcntl(held, F_DUPFD_CLOEXEC, 0);
      if (r >= 0) {
        this._hold(dev, id, r);
        this.stats.doubleGetsAvoided++;
        return r;
      }
    }
    return -1;
  }

  private _hold(dev: number, id: number, fd: number): void {
    this._unhold(fd);
    let ids = this._held.get(dev);
    if (!ids) this._held.set(dev, ids = new Map());
    let fds = ids.get(id);
    if (!fds) ids.set(id, fds = new Set());
    fds.add(fd);
    this._heldBy.set(fd, { dev, id });
  }

  private _unhold(fd: number): void {
    const held = this._heldBy.get(fd);
    if (!held) return;
    this._heldBy.delete(fd);
    const ids = this._held.get(held.dev);
    const fds = ids?.get(held.id);
    fds?.delete(fd);
    if (fds && fds.size === 0) ids!.delete(held.id);
  }

  /** `fd` was closed: drop what we recorded about it, and a device's dma-buf records with it. */
  private _forget(fd: number): void {
    this._fixedCloexec.delete(fd);
    this._unhold(fd);
    const ids = this._held.get(fd);
    if (ids) {
      this._held.delete(fd);
      for (const fds of ids.values()) for (const f of fds) this._heldBy.delete(f);
    }
  }
}
