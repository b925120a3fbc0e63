/**
 * Linux errno values (asm-generic/errno-base.h, errno.h). Kernel-style functions in this code
 * base return `-Errno.X` for failure and a non-negative value for success, like the syscalls
 * they model.
 */
export const enum Errno {
  EPERM = 1,
  ENOENT = 2,
  EINTR = 4,
  EIO = 5,
  ENXIO = 6,
  E2BIG = 7,
  EBADF = 9,
  EAGAIN = 11,
  ENOMEM = 12,
  EACCES = 13,
  EFAULT = 14,
  EBUSY = 16,
  EEXIST = 17,
  ENODEV = 19,
  EINVAL = 22,
  EMFILE = 24,
  ENOTTY = 25,
  ENOSPC = 28,
  ESPIPE = 29,
  ERANGE = 34,
  ENOSYS = 38,
  EOVERFLOW = 75,
  EOPNOTSUPP = 95,
}

const NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL',
  24: 'EMFILE', 25: 'ENOTTY', 28: 'ENOSPC', 29: 'ESPIPE', 34: 'ERANGE', 38: 'ENOSYS',
  75: 'EOVERFLOW', 95: 'EOPNOTSUPP',
};

/** `-22` or `22` → `'EINVAL'`; unknown values print as `E#n`. */
export function errnoName(code: number): string {
  const n = Math.abs(code);
  return NAMES[n] ?? `E#${n}`;
}

/** An error carrying an errno, for APIs that throw rather than return `-errno`. */
export class ErrnoError extends Error {
  public readonly errno: number;
  public readonly code: string;
  public constructor(errno: number, message: string) {
    super(`${errnoName(errno)}: ${message}`);
    this.errno = Math.abs(errno);
    this.code = errnoName(errno);
  }
}
