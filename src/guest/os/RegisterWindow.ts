/**
 * A device's MMIO register window as the guest driver sees it. Writes are posted: they reach the
 * device in program order but asynchronously (through a ring to the host mediator). A read is
 * synchronous and sees every earlier write. `writeSeq` counts writes issued so far; the vblank
 * interrupt reports how many the device had applied when it latched (`VblankInfo.writesApplied`),
 * which is how a driver knows that a flip it programmed has taken effect.
 */
export interface RegisterWindow {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  read64(offset: number): bigint;
  write64(offset: number, value: bigint): void;
  /** Writes issued so far (wraps at 2^32; compare with `((a - b) | 0) >= 0`). */
  readonly writeSeq: number;
}

/** 32-bit helpers, the common case for display registers. */
export function rd32(w: RegisterWindow, offset: number): number {
  return w.read(offset, 4) >>> 0;
}

export function wr32(w: RegisterWindow, offset: number, value: number): void {
  w.write(offset, 4, value >>> 0);
}
