import koffi from 'koffi';
import { constants as osConstants } from 'node:os';
import { errnoName as baseErrnoName } from '../base/Errno.ts';

/**
 * The libc calls src/linux needs, bound once through koffi (an FFI with prebuilt binaries; no
 * native addon of our own). Every function returns what libc returns (-1 and errno on failure);
 * `errno()` must be read right after the call that failed. Pointers are BigInt in koffi 3.
 *
 * Variadic C functions (open, ioctl, fcntl) are bound as variadic and called with type/value
 * pairs, so the call follows the variadic ABI exactly.
 */
export interface Libc {
  open(path: string, flags: number): number;
  close(fd: number): number;
  /** ioctl(fd, request, void *arg): the buffer is passed by reference, in and out. */
  ioctlPtr(fd: number, request: number, arg: Uint8Array | null): number;
  /** ioctl(fd, request, unsigned long value). */
  ioctlInt(fd: number, request: number, value: number): number;
  /** ioctl(fd, request, const char *s). */
  ioctlStr(fd: number, request: number, s: string): number;
  pread(fd: number, buf: Uint8Array, count: number, offset: number): number;
  pwrite(fd: number, buf: Uint8Array, count: number, offset: number): number;
  read(fd: number, buf: Uint8Array, count: number): number;
  write(fd: number, buf: Uint8Array, count: number): number;
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  eventfd(initval: number, flags: number): number;
  /** poll(fds, nfds, timeout) on an array of 8-byte struct pollfd. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, length: number): number;
  pipe2(fds: number[], flags: number): number;
  errno(): number;
  /** An ArrayBuffer over `length` bytes of native memory at `addr` (no copy). */
  view(addr: bigint, length: number): ArrayBuffer;
}

// Linux x86-64 / arm64 values (asm-generic), not exported by node:fs.
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_DUPFD_CLOEXEC = 1030;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const FD_CLOEXEC = 1;
export const O_ACCMODE = 3;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const MAP_SHARED = 1;
export const POLLIN = 1;
export const SEEK_END = 2;
export const MFD_CLOEXEC = 1;
export const MFD_ALLOW_SEALING = 2;
// fcntl file seals (<linux/fcntl.h>): udmabuf wants F_SEAL_SHRINK on the memfd.
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const F_SEAL_SHRINK = 2;
/** (void *)-1 as koffi 3 returns it. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

let _libc: Libc | undefined;

/** The libc bindings, loaded on first use. Throws if koffi or libc.so.6 cannot be loaded. */
export function libc(): Libc {
  if (_libc) return _libc;
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags, ...)');
  const close = lib.func('int close(int fd)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)');
  const pread = lib.func('long pread(int fd, void *buf, size_t count, int64_t offset)');
  const pwrite = lib.func('long pwrite(int fd, const void *buf, size_t count, int64_t offset)');
  const read = lib.func('long read(int fd, void *buf, size_t count)');
  const write = lib.func('long write(int fd, const void *buf, size_t count)');
  const mmap = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const munmap = lib.func('int munmap(void *addr, size_t length)');
  const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
  const eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
  const poll = lib.func('int poll(void *fds, unsigned long nfds, int timeout)');
  const lseek = lib.func('int64_t lseek(int fd, int64_t offset, int whence)');
  const memfd = lib.func('int memfd_create(const char *name, unsigned int flags)');
  const ftruncate = lib.func('int ftruncate(int fd, int64_t length)');
  const pipe2 = lib.func('int pipe2(_Out_ int *fds, int flags)');
  _libc = {
    open: (path, flags) => open(path, flags) as number,
    close: (fd) => close(fd) as number,
    ioctlPtr: (fd, request, arg) => ioctl(fd, request, 'void *', arg) as number,
    ioctlInt: (fd, request, value) => ioctl(fd, request, 'unsigned long', value) as number,
    ioctlStr: (fd, request, s) => ioctl(fd, request, 'const char *', s) as number,
    pread: (fd, buf, count, offset) => Number(pread(fd, buf, count, offset)),
    pwrite: (fd, buf, count, offset) => Number(pwrite(fd, buf, count, offset)),
    read: (fd, buf, count) => Number(read(fd, buf, count)),
    write: (fd, buf, count) => Number(write(fd, buf, count)),
    mmap: (length, prot, flags, fd, offset) => {
      const p: unknown = mmap(null, length, prot, flags, fd, offset);
      // koffi 3 gives a BigInt; be tolerant of a null/External from other versions.
      return typeof p === 'bigint' ? p : p === null ? MAP_FAILED : koffi.address(p);
    },
    munmap: (addr, length) => munmap(addr, length) as number,
    fcntl: (fd, cmd, arg) => (arg === undefined ? fcntl(fd, cmd) : fcntl(fd, cmd, 'int', arg)) as number,
    eventfd: (initval, flags) => eventfd(initval, flags) as number,
    poll: (fds, nfds, timeoutMs) => poll(fds, nfds, timeoutMs) as number,
    lseek: (fd, offset, whence) => Number(lseek(fd, offset, whence)),
    memfdCreate: (name, flags) => memfd(name, flags) as number,
    ftruncate: (fd, length) => ftruncate(fd, length) as number,
    pipe2: (fds, flags) => pipe2(fds, flags) as number,
    errno: () => koffi.errno(),
    view: (addr, length) => koffi.view(addr, length),
  };
  return _libc;
}

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
}

/**
 * `-13` or `13` → `'EACCES'`: the project's names first (src/base/Errno), then the platform's own
 * table; unknown values print as `E#n`.
 */
export function errnoName(code: number): string {
  const n = Math.abs(code);
  const base = baseErrnoName(n);
  return base.startsWith('E#') ? ERRNO_NAMES.get(n) ?? base : base;
}
