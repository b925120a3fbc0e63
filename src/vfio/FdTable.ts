import { Errno } from '../base/Errno.ts';
import type { OpenFile } from './OpenFile.ts';

interface Slot { file: OpenFile; cloexec: boolean }

/**
 * A process's file-descriptor table. fds are the lowest free number ≥ 3 (0–2 are stdio), bounded
 * by an RLIMIT_NOFILE-like limit so EMFILE can be exercised.
 */
export class FdTable {
  private readonly _slots = new Map<number, Slot>();

  public constructor(public limit = 1024) {}

  public get openCount(): number {
    return this._slots.size;
  }

  /** Install `file` at the lowest free fd; `-EMFILE` when the table is full. */
  public install(file: OpenFile, cloexec: boolean): number {
    if (this._slots.size >= this.limit - 3) return -Errno.EMFILE;
    let fd = 3;
    while (this._slots.has(fd)) fd++;
    if (fd >= this.limit) return -Errno.EMFILE;
    file.fdRefs++;
    this._slots.set(fd, { file, cloexec });
    return fd;
  }

  public get(fd: number): OpenFile | undefined {
    return this._slots.get(fd)?.file;
  }

  public cloexec(fd: number): boolean | number {
    const s = this._slots.get(fd);
    return s ? s.cloexec : -Errno.EBADF;
  }

  public close(fd: number): number {
    const s = this._slots.get(fd);
    if (!s) return -Errno.EBADF;
    this._slots.delete(fd);
    s.file.put('fd');
    return 0;
  }

  /** dup(2): a new fd for the same file; the new fd does not have close-on-exec. */
  public dup(fd: number): number {
    const s = this._slots.get(fd);
    if (!s) return -Errno.EBADF;
    return this.install(s.file, false);
  }

  /** Close everything (process exit). */
  public closeAll(): void {
    for (const fd of [...this._slots.keys()]) this.close(fd);
  }

  /** Open files by kind, for leak checks. */
  public countByKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { file } of this._slots.values()) out[file.kind] = (out[file.kind] ?? 0) + 1;
    return out;
  }
}
