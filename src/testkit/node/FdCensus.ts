import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fdIdentity } from '../../qemu/MappedFd.ts';

/** How often this process holds one file (by fstat identity, `st_dev:st_ino`): fds and mappings. */
export interface Held {
  readonly fds: number;
  readonly maps: number;
}

/**
 * This process's open fds as `N -> target` (the readdir's own fd, gone by the readlink, drops
 * out). A leak check compares two of these: an fd closed in between is fine, a new one is a leak,
 * and a number reused for another file reads as new (socket and anon inode targets carry inodes).
 */
export function openFds(): Set<string> {
  const out = new Set<string>();
  for (const n of readdirSync('/proc/self/fd')) {
    try {
      out.add(`${n} -> ${readlinkSync(`/proc/self/fd/${n}`)}`);
    } catch {
      // closed since the readdir
    }
  }
  return out;
}

/** The fds open now that were not in `before`. */
export function newFds(before: ReadonlySet<string>): string[] {
  return [...openFds()].filter((f) => !before.has(f));
}

/**
 * The fds (/proc/self/fd, each fstat()ed) and the mappings (/proc/self/maps: its dev and inode
 * columns) of the file whose identity is `key`, as MappedFd's fdIdentity spells it.
 */
export function held(key: string): Held {
  const [dev, ino] = key.split(':').map((x) => BigInt(x)) as [bigint, bigint];
  let fds = 0;
  for (const name of readdirSync('/proc/self/fd')) {
    if (fdIdentity(Number(name))?.key === key) fds++;
  }
  // glibc's dev_t encoding: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const devCol = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
  let maps = 0;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (f[3] === devCol && f[4] === String(ino)) maps++;
  }
  return { fds, maps };
}
