import { readFileSync } from 'node:fs';

/** Process CPU time (user + system, every thread) in milliseconds: a Clock-style `now` for CPU. */
export function cpuNowMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall time in milliseconds. */
export function wallNowMs(): number {
  return performance.now();
}

let schedstatOk: boolean | undefined;

/**
 * CPU time of the calling thread in milliseconds (Linux /proc/thread-self/schedstat), or NaN
 * where that file does not exist. process.cpuUsage counts every thread (guest workers, GC); this
 * is how much the host's event loop alone used.
 */
export function threadCpuMs(): number {
  if (schedstatOk === false) return NaN;
  try {
    const s = readFileSync('/proc/thread-self/schedstat', 'utf8');
    schedstatOk = true;
    return Number(s.split(' ')[0]) / 1e6;
  } catch {
    schedstatOk = false;
    return NaN;
  }
}

/**
 * Times the calling thread was preempted (Linux nonvoluntary_ctxt_switches), or NaN elsewhere:
 * how often another runnable thread took the core from the host's event loop.
 */
export function threadPreemptions(): number {
  try {
    const s = readFileSync('/proc/thread-self/status', 'utf8');
    const m = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}
