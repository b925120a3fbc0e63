import type { GgttRange } from '../gpu/Ggtt.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { BAR0_SIZE, GTT_BASE } from '../vgpu/gvt/GvtRegisters.ts';

/**
 * An independent model of ONE guest's GGTT, fed with the same BAR0 writes the guest issues: the
 * oracle the canary fuzzer checks exported pages against. It follows the spec rules, not the
 * mediator's code: a write lands only in the guest's own slices; a PTE is valid when bit 0 is set
 * and bits 63:12 name a page of the guest's own memory; a 32-bit write replaces one half.
 * `page(gma)` is then the only guest page an exported buffer may show at that address.
 */
export class GgttShadow {
  private readonly _lo = new Map<number, number>();
  private readonly _hi = new Map<number, number>();

  public constructor(
    private readonly _aperture: GgttRange,
    private readonly _hidden: GgttRange,
    private readonly _pageCount: number,
  ) {}

  /** Observe a guest BAR0 write (32-bit number or 64-bit bigint), exactly as issued. */
  public observe(off: number, v: number | bigint): void {
    const size = typeof v === 'bigint' ? 8 : 4;
    if (!Number.isInteger(off) || off < GTT_BASE || off % size !== 0 || off + size > BAR0_SIZE) return;
    const index = Math.floor((off - GTT_BASE) / 8);
    if (!this.owns(index)) return;
    if (typeof v === 'bigint') {
      const u = BigInt.asUintN(64, v);
      this._lo.set(index, Number(u & 0xffffffffn));
      this._hi.set(index, Number(u >> 32n));
    } else if ((off - GTT_BASE) % 8 === 0) {
      this._lo.set(index, v >>> 0);
    } else {
      this._hi.set(index, v >>> 0);
    }
  }

  /** VFIO_DEVICE_RESET: every entry of the guest's slices becomes invalid. */
  public reset(): void {
    this._lo.clear();
    this._hi.clear();
  }

  public owns(index: number): boolean {
    const inR = (r: GgttRange): boolean => index >= r.base / PAGE_SIZE && index < (r.base + r.size) / PAGE_SIZE;
    return inR(this._aperture) || inR(this._hidden);
  }

  /** Guest page behind graphics page `index`, or -1 (outside the slices, invalid, past memory). */
  public page(index: number): number {
    if (!this.owns(index)) return -1;
    const lo = this._lo.get(index) ?? 0;
    if ((lo & 1) === 0) return -1;
    const page = (this._hi.get(index) ?? 0) * 2 ** 20 + (lo >>> 12);
    return page < this._pageCount ? page : -1;
  }

  /** Whether [gma, gma + size) lies inside ONE slice (the B1 rule, stated independently). */
  public rangeInOneSlice(gma: number, size: number): boolean {
    const last = gma + Math.max(size, 1) - 1;
    const within = (r: GgttRange): boolean => gma >= r.base && last < r.base + r.size;
    return within(this._aperture) || within(this._hidden);
  }
}
