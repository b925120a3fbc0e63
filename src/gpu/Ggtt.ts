import { PAGE_SHIFT, PAGE_SIZE } from './GuestMemory.ts';

/** A graphics-address range in bytes: [base, base + size). Page aligned. */
export interface GgttRange {
  readonly base: number;
  readonly size: number;
}

/** What `Ggtt.assign` gives one vGPU (GVT-g "ballooning": each vGPU owns two slices). */
export interface GgttAssignment {
  /** Slice of the CPU-mappable part of the GGTT (GVT "low GM"). */
  readonly aperture: GgttRange;
  /** Slice of the part behind the aperture (GVT "high GM"). */
  readonly hidden: GgttRange;
  /** Pages in the VM's GuestMemory: a PTE naming a page >= this is stored invalid. */
  readonly guestPageCount: number;
}

/** Counters of guest PTE writes the mediator refused (per VM or in total). */
export interface GgttCounters {
  /** Writes to a GGTT index outside the writer's slices: dropped. */
  readonly droppedWrites: number;
  /** Valid PTEs naming a guest page outside the VM's memory: stored as invalid. */
  readonly invalidPtes: number;
}

export interface GgttOptions {
  /**
   * Bytes at the bottom of the GGTT that the CPU aperture maps (default: half). Aperture slices
   * must lie below it and hidden slices above it, as with GVT-g's ballooned GGTT.
   */
  readonly mappableSize?: number;
}

/** The largest GGTT we model: 4 GiB of graphics memory, the reach of the 8 MiB GTT window. */
export const GGTT_MAX_PAGES = 1 << 20;

interface Slice {
  readonly vmId: number;
  readonly a: GgttAssignment;
  /** Page-index bounds, end exclusive. */
  readonly apFirst: number;
  readonly apEnd: number;
  readonly hidFirst: number;
  readonly hidEnd: number;
  droppedWrites: number;
  invalidPtes: number;
  generation: number;
  /** translateRange results by GMA, valid while `generation` equals `rangesGen`. */
  readonly ranges: Map<number, { readonly size: number; readonly pages: Uint32Array }>;
  rangesGen: number;
}

/** Ranges remembered per VM (primary, cursor and sprite, each double or triple buffered). */
const RANGE_CACHE = 16;

const NO_OWNER = -1;

/**
 * The host's global GTT, shared by every vGPU on one physical GPU. Graphics memory address (GMA)
 * page i maps through host entry i. Guests never write host entries directly: their PTE writes
 * arrive here through the GTT window, are checked against the writer's slices and memory, and
 * only then become host entries tagged with the writer's vmId. Every lookup checks that tag, so a
 * guest can neither reach another VM's pages nor make its own GMA point outside its own memory.
 */
export class Ggtt {
  /** Number of 4 KiB entries (graphics pages). */
  public readonly pageCount: number;
  /** Graphics address space in bytes. */
  public readonly size: number;
  public readonly mappableSize: number;

  /** Host entry: owner vmId or NO_OWNER (entry invalid). */
  private readonly _owner: Int32Array;
  /** Host entry: guest physical page, meaningful only when an owner is set. */
  private readonly _page: Uint32Array;
  /** The guest's last written PTE (what the GTT window reads back), low and high dwords. */
  private readonly _rawLo: Uint32Array;
  private readonly _rawHi: Uint32Array;
  private readonly _slices = new Map<number, Slice>();
  private _droppedWrites = 0;
  private _invalidPtes = 0;

  public constructor(pageCount: number, options: GgttOptions = {}) {
    if (!Number.isInteger(pageCount) || pageCount <= 0 || pageCount > GGTT_MAX_PAGES) {
      throw new RangeError(`GGTT page count must be an integer in 1..${GGTT_MAX_PAGES}, got ${pageCount}`);
    }
    this.pageCount = pageCount;
    this.size = pageCount * PAGE_SIZE;
    const mappable = options.mappableSize ?? Math.floor(pageCount / 2) * PAGE_SIZE;
    if (!isPageAligned(mappable) || mappable > this.size) {
      throw new RangeError(`mappable size ${mappable} must be page aligned and <= ${this.size}`);
    }
    this.mappableSize = mappable;
    this._owner = new Int32Array(pageCount).fill(NO_OWNER);
    this._page = new Uint32Array(pageCount);
    this._rawLo = new Uint32Array(pageCount);
    this._rawHi = new Uint32Array(pageCount);
  }

  /**
   * Give `vmId` its two slices. Throws RangeError for a bad configuration: vmId taken, ranges not
   * page aligned, outside their half of the GGTT, or overlapping another VM's slices. Entries in
   * the new slices start invalid.
   */
  public assign(vmId: number, assignment: GgttAssignment): void {
    if (!Number.isInteger(vmId) || vmId < 0 || vmId > 0x7fffffff) {
      throw new RangeError(`vmId must be a non-negative 31-bit integer, got ${vmId}`);
    }
    if (this._slices.has(vmId)) throw new RangeError(`vm ${vmId} already has GGTT slices`);
    const { aperture, hidden, guestPageCount } = assignment;
    checkRange('aperture', aperture, 0, this.mappableSize);
    checkRange('hidden', hidden, this.mappableSize, this.size);
    if (!Number.isInteger(guestPageCount) || guestPageCount < 0) {
      throw new RangeError(`guestPageCount must be a non-negative integer, got ${guestPageCount}`);
    }
    for (const s of this._slices.values()) {
      if (overlaps(aperture, s.a.aperture) || overlaps(hidden, s.a.hidden)) {
        throw new RangeError(`vm ${vmId}: GGTT slices overlap those of vm ${s.vmId}`);
      }
    }
    const slice: Slice = {
      vmId,
      a: {
        aperture: { base: aperture.base, size: aperture.size },
        hidden: { base: hidden.base, size: hidden.size },
        guestPageCount,
      },
      apFirst: aperture.base / PAGE_SIZE,
      apEnd: (aperture.base + aperture.size) / PAGE_SIZE,
      hidFirst: hidden.base / PAGE_SIZE,
      hidEnd: (hidden.base + hidden.size) / PAGE_SIZE,
      droppedWrites: 0,
      invalidPtes: 0,
      generation: 0,
      ranges: new Map(),
      rangesGen: 0,
    };
    this._clearSlice(slice);
    this._slices.set(vmId, slice);
  }

  /**
   * First-fit placement: the lowest free aperture slice and the lowest free hidden slice of the
   * given byte sizes (page aligned). Returns the assignment, or undefined when either does not fit.
   */
  public allocate(
    vmId: number, apertureSize: number, hiddenSize: number, guestPageCount: number,
  ): GgttAssignment | undefined {
    if (!isPageAligned(apertureSize) || !isPageAligned(hiddenSize)) {
      throw new RangeError('slice sizes must be page aligned');
    }
    const ap = this._firstFit(0, this.mappableSize, apertureSize, (s) => s.a.aperture);
    const hid = this._firstFit(this.mappableSize, this.size, hiddenSize, (s) => s.a.hidden);
    if (ap === undefined || hid === undefined) return undefined;
    const a: GgttAssignment = {
      aperture: { base: ap, size: apertureSize },
      hidden: { base: hid, size: hiddenSize },
      guestPageCount,
    };
    this.assign(vmId, a);
    return this.assignment(vmId);
  }

  /** Take the slices back; their entries become invalid. Unknown vmId: no-op. */
  public release(vmId: number): void {
    const s = this._slices.get(vmId);
    if (!s) return;
    this._clearSlice(s);
    this._slices.delete(vmId);
  }

  /** Invalidate every entry of the VM's slices (device reset). The slices stay assigned. */
  public invalidateVm(vmId: number): void {
    const s = this._slices.get(vmId);
    if (!s) return;
    this._clearSlice(s);
    s.generation++;
  }

  public assignment(vmId: number): GgttAssignment | undefined {
    return this._slices.get(vmId)?.a;
  }

  /** Whether `index` (a graphics page) lies in one of the VM's slices. */
  public ownsIndex(vmId: number, index: number): boolean {
    const s = this._slices.get(vmId);
    return s !== undefined && Number.isInteger(index) && inSlice(s, index);
  }

  /**
   * A guest PTE write through its GTT window: bits 63:12 guest physical address, bit 0 valid.
   * Returns true when the write was accepted (stored, possibly as an invalid entry).
   */
  public writePte(vmId: number, index: number, pte: bigint): boolean {
    if (typeof pte !== 'bigint') return this._drop(vmId);
    const v = BigInt.asUintN(64, pte);
    return this._write(vmId, index, Number(v & 0xffffffffn), Number(v >> 32n));
  }

  /**
   * A 32-bit write to one half of a PTE (`dword` 0 = bits 31:0, 1 = bits 63:32). The half is
   * merged with the guest's last written value and the whole PTE is validated again, so a PTE
   * written as two dwords is in force once both halves have arrived.
   */
  public writePte32(vmId: number, index: number, dword: 0 | 1, value: number): boolean {
    if (!this.ownsIndex(vmId, index)) return this._drop(vmId);
    const lo = dword === 0 ? value >>> 0 : this._rawLo[index]!;
    const hi = dword === 1 ? value >>> 0 : this._rawHi[index]!;
    return this._write(vmId, index, lo, hi);
  }

  /** The guest's last written PTE for one of its own entries; 0n for anything else. */
  public readPte(vmId: number, index: number): bigint {
    if (!this.ownsIndex(vmId, index)) return 0n;
    return (BigInt(this._rawHi[index]!) << 32n) | BigInt(this._rawLo[index]!);
  }

  public readPte32(vmId: number, index: number, dword: 0 | 1): number {
    if (!this.ownsIndex(vmId, index)) return 0;
    return dword === 0 ? this._rawLo[index]! : this._rawHi[index]!;
  }

  /** Guest physical page that GMA `gma` maps to, or -1 (invalid, not owned by vmId, bad input). */
  public translate(vmId: number, gma: number): number {
    if (!Number.isInteger(gma) || gma < 0 || gma >= this.size) return -1;
    const i = Math.floor(gma / PAGE_SIZE);
    // The slice check is redundant with the owner tag (release clears entries); kept as a belt.
    if (this._owner[i] !== vmId || !this.ownsIndex(vmId, i)) return -1;
    return this._page[i]!;
  }

  /**
   * The guest pages behind bytes [gma, gma + size), one per 4 KiB page, or null when any page does
   * not translate for vmId. Use it again at map time: the guest may remap between query and map.
   * The array may be shared with earlier calls (see the memo below): callers must not modify it.
   */
  public translateRange(vmId: number, gma: number, size: number): Uint32Array | null {
    if (!Number.isInteger(gma) || !Number.isInteger(size) || gma < 0 || size <= 0 || gma % PAGE_SIZE !== 0) {
      return null;
    }
    const count = Math.ceil(size / PAGE_SIZE);
    if (gma / PAGE_SIZE + count > this.pageCount) return null;
    // A guest maps its surfaces once and then flips without touching the GTT: while this VM's
    // entries are unchanged (same generation), the walk is remembered, so a QUERY per refresh
    // costs O(1) instead of O(pages). Any accepted PTE write of the VM drops the memo.
    const s = this._slices.get(vmId);
    if (s) {
      if (s.rangesGen !== s.generation) {
        s.ranges.clear();
        s.rangesGen = s.generation;
      }
      const hit = s.ranges.get(gma);
      if (hit && hit.size === size) return hit.pages;
    }
    const out = new Uint32Array(count);
    for (let k = 0; k < count; k++) {
      const p = this.translate(vmId, gma + k * PAGE_SIZE);
      if (p < 0) return null;
      out[k] = p;
    }
    if (s) {
      if (s.ranges.size >= RANGE_CACHE) s.ranges.clear();
      s.ranges.set(gma, { size, pages: out });
    }
    return out;
  }


  /** GVT `vgpu_gmadr_is_valid`: the address lies in the VM's aperture or hidden slice. */
  public isValidGma(vmId: number, addr: number): boolean {
    const s = this._slices.get(vmId);
    if (!s || !Number.isFinite(addr)) return false;
    return inRange(s.a.aperture, addr) || inRange(s.a.hidden, addr);
  }

  /**
   * GVT `intel_gvt_ggtt_validate_range` (spec §3.5, bug B1): size 0 → only `addr` must be valid;
   * otherwise `addr` and `addr + size - 1` must lie both in the aperture slice or both in the
   * hidden slice. Testing each end on its own would let a range straddle aperture → hidden and
   * span other tenants' entries in between.
   */
  public validateRange(vmId: number, addr: number, size: number): boolean {
    const s = this._slices.get(vmId);
    if (!s || !Number.isInteger(addr) || !Number.isInteger(size) || size < 0) return false;
    if (size === 0) return this.isValidGma(vmId, addr);
    const last = addr + size - 1;
    const { aperture, hidden } = s.a;
    return (inRange(aperture, addr) && inRange(aperture, last)) ||
      (inRange(hidden, addr) && inRange(hidden, last));
  }

  /** Refused writes of one VM (a vmId with no slices: zeros). */
  public counters(vmId: number): GgttCounters {
    const s = this._slices.get(vmId);
    return { droppedWrites: s?.droppedWrites ?? 0, invalidPtes: s?.invalidPtes ?? 0 };
  }

  /** Refused writes of every VM, including writers that have no slices. */
  public get totals(): GgttCounters {
    return { droppedWrites: this._droppedWrites, invalidPtes: this._invalidPtes };
  }

  /**
   * Bumped on every accepted PTE write and invalidation of the VM's slices: a cheap way for the
   * host to notice that a guest remapped its GGTT since it last translated.
   */
  public generation(vmId: number): number {
    return this._slices.get(vmId)?.generation ?? 0;
  }

  private _write(vmId: number, index: number, lo: number, hi: number): boolean {
    const s = this._slices.get(vmId);
    if (!s || !Number.isInteger(index) || !inSlice(s, index)) return this._drop(vmId);
    this._rawLo[index] = lo;
    this._rawHi[index] = hi;
    s.generation++;
    if ((lo & 1) === 0) {
      this._owner[index] = NO_OWNER;
      return true;
    }
    // Bits 63:12 are the guest physical address; as a page number that is hi:lo[31:12].
    const page = hi * 0x100000 + (lo >>> PAGE_SHIFT);
    if (page >= s.a.guestPageCount) {
      this._owner[index] = NO_OWNER;
      s.invalidPtes++;
      this._invalidPtes++;
      return true;
    }
    this._owner[index] = vmId;
    this._page[index] = page;
    return true;
  }

  private _drop(vmId: number): false {
    const s = this._slices.get(vmId);
    if (s) s.droppedWrites++;
    this._droppedWrites++;
    return false;
  }

  private _clearSlice(s: Slice): void {
    for (const [first, end] of [[s.apFirst, s.apEnd], [s.hidFirst, s.hidEnd]] as const) {
      this._owner.fill(NO_OWNER, first, end);
      this._page.fill(0, first, end);
      this._rawLo.fill(0, first, end);
      this._rawHi.fill(0, first, end);
    }
  }

  private _firstFit(lo: number, hi: number, size: number, pick: (s: Slice) => GgttRange): number | undefined {
    const taken = [...this._slices.values()].map(pick).filter((r) => r.size > 0);
    taken.sort((x, y) => x.base - y.base);
    let at = lo;
    for (const r of taken) {
      if (r.base - at >= size) break;
      at = Math.max(at, r.base + r.size);
    }
    return at + size <= hi ? at : undefined;
  }
}

function isPageAligned(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n % PAGE_SIZE === 0;
}

function checkRange(name: string, r: GgttRange, lo: number, hi: number): void {
  if (!r || !isPageAligned(r.base) || !isPageAligned(r.size)) {
    throw new RangeError(`${name} slice must be page aligned, got ${r?.base}+${r?.size}`);
  }
  if (r.size > 0 && (r.base < lo || r.base + r.size > hi)) {
    throw new RangeError(`${name} slice ${r.base}+${r.size} outside [${lo}, ${hi})`);
  }
}

function overlaps(a: GgttRange, b: GgttRange): boolean {
  return a.size > 0 && b.size > 0 && a.base < b.base + b.size && b.base < a.base + a.size;
}

function inRange(r: GgttRange, addr: number): boolean {
  return addr >= r.base && addr < r.base + r.size;
}

function inSlice(s: Slice, index: number): boolean {
  return (index >= s.apFirst && index < s.apEnd) || (index >= s.hidFirst && index < s.hidEnd);
}
