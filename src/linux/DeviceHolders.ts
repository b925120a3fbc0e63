import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** A process that has one of the device nodes open (found through /proc/PID/fd links). */
export interface DeviceHolder {
  readonly pid: number;
  /** /proc/PID/comm, e.g. `qemu-system-x86` (empty when unreadable). */
  readonly comm: string;
  /** The node it holds, as the fd link reads: /dev/vfio/devices/vfio0, /dev/vfio/3. */
  readonly path: string;
  readonly fd: number;
}

export interface FindHoldersOptions {
  /** Where procfs is mounted (tests point this at a temp folder). Default /proc. */
  procRoot?: string;
  /** Stop after this many holders (default 8). */
  limit?: number;
  /** Give up after reading this many fd links in total (default 200000): a bounded scan. */
  maxLinks?: number;
}

/**
 * Which processes hold `paths` open: readlink of every /proc/PID/fd/N. Processes we may not look
 * into (another user's, without root) and ones that exit during the scan are skipped, so an empty
 * answer means "not found", never "not held". A device fd obtained through a group shows as
 * `anon_inode:[vfio-device]` and names no device, so only the cdev and group nodes are matched;
 * fds passed over SCM_RIGHTS show at the receiver.
 */
export function findDeviceHolders(paths: readonly string[], opts: FindHoldersOptions = {}): DeviceHolder[] {
  const proc = opts.procRoot ?? '/proc';
  const limit = opts.limit ?? 8;
  let budget = opts.maxLinks ?? 200_000;
  const want = new Set(paths);
  const found: DeviceHolder[] = [];
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((n) => /^[1-9][0-9]*$/.test(n));
  } catch {
    return found;
  }
  pids.sort((a, b) => Number(a) - Number(b));
  for (const pid of pids) {
    const fdDir = join(proc, pid, 'fd');
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      if (budget-- <= 0) return found;
      let target: string;
      try {
        target = readlinkSync(join(fdDir, fd));
      } catch {
        continue;
      }
      if (!want.has(target)) continue;
      found.push({ pid: Number(pid), comm: readComm(join(proc, pid, 'comm')), path: target, fd: Number(fd) });
      if (found.length >= limit) return found;
    }
  }
  return found;
}

function readComm(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** "pid 1234 (qemu-system-x86) holds /dev/vfio/devices/vfio0" for each holder; `self` marks ours. */
export function describeHolders(holders: readonly DeviceHolder[], self = process.pid): string {
  return holders.map((h) => `pid ${h.pid}${h.comm ? ` (${h.comm})` : ''}${h.pid === self ? ' — this process' : ''} holds ${h.path}`).join('; ');
}
