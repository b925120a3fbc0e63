import type { CheckContext } from './CheckContext.ts';

/**
 * Device families the suite knows how to program. `dmabuf` / `unknown` are devices it cannot
 * identify: only the ABI checks that need no programming run on them.
 */
export type DeviceFamily = 'gvt' | 'bochs' | 'region' | 'dmabuf' | 'unknown';

/**
 * A known kernel bug a REAL device may show. On a real device a check that fails in exactly the
 * documented way reports a quirk (not a failure); on an emulated device it is a failure, since
 * our devices fix these bugs.
 *  - B12: mbochs, the first QUERY after a mode change returns -ENOMEM (a retry succeeds).
 *  - B13: mbochs, a second GET of a live id installs one file twice (never run on real devices).
 *  - B17: GVT reuses dma-buf ids lowest-first after a free.
 *  - MBOCHS-RO-MMAP: mbochs exports read-only dma-bufs, which userspace cannot mmap (-EINVAL).
 *  - MBOCHS-CLOEXEC: mbochs dma-buf fds are not close-on-exec.
 *  - MBOCHS-PRW-OFFSET: mbochs pread/pwrite on VRAM land 8192 bytes off.
 *  - MDPY-NUM-REGIONS: mdpy's region 16 lies outside its num_regions (9).
 *  - MDPY-PRW-OFFSET: mdpy pread/pwrite on the framebuffer ignore the offset.
 *  - GVT-UNTOUCHED: GVT leaves the outputs of a disabled plane as the caller wrote them.
 *  - GVT-CURPOS-SIGN: GVT drops the CURPOS sign bits (our two's complement is an extension).
 */
export type KnownBug =
  | 'B12' | 'B13' | 'B17' | 'MBOCHS-RO-MMAP' | 'MBOCHS-CLOEXEC' | 'MBOCHS-PRW-OFFSET'
  | 'MDPY-NUM-REGIONS' | 'MDPY-PRW-OFFSET' | 'GVT-UNTOUCHED' | 'GVT-CURPOS-SIGN';

export interface Quirk {
  readonly bug: KnownBug;
  readonly text: string;
}

/** What a check's run() returns. `quirk` marks a failure that matches a known kernel bug. */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
  readonly quirk?: Quirk;
}

/**
 * One conformance check, as data. `applies` says whether it runs on this device (true) or why
 * not (a reason string, reported as n/a). `run` talks to the device only through the device
 * file (ctx.sys and ctx.fd) and must leave nothing open: fds it gets through ctx are closed by
 * the runner after it returns.
 */
export interface Check {
  readonly name: string;
  /** One line: what is checked (for --list and reports). */
  readonly description: string;
  applies(ctx: CheckContext): true | string;
  run(ctx: CheckContext): CheckResult;
}

export type CheckStatus = 'ok' | 'fail' | 'quirk' | 'n/a';

/** One check in a report. `ok` is false only for failures (a quirk is tolerated). */
export interface CheckOutcome {
  readonly name: string;
  readonly status: CheckStatus;
  readonly ok: boolean;
  readonly detail: string;
  readonly quirk?: Quirk;
}

export interface ConformanceReport {
  readonly device: string;
  readonly family: DeviceFamily;
  readonly real: boolean;
  /** Checks with status ok. */
  readonly passed: number;
  readonly failed: number;
  readonly quirks: readonly { readonly name: string; readonly bug: KnownBug; readonly text: string }[];
  readonly notApplicable: readonly { readonly name: string; readonly reason: string }[];
  /** Legitimate differences between drivers, as observed (e.g. errno of GET with an unknown id). */
  readonly behaviour: Readonly<Record<string, string>>;
  /** Every check that ran (n/a ones are in notApplicable). */
  readonly checks: readonly CheckOutcome[];
}

export const pass = (detail: string): CheckResult => ({ ok: true, detail });
export const fail = (detail: string): CheckResult => ({ ok: false, detail });
export const quirk = (bug: KnownBug, text: string): CheckResult => ({ ok: false, detail: text, quirk: { bug, text } });
